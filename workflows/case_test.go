package workflows

import (
	"testing"
	"time"
)

func TestCaseWorkflowIDRoundTrip(t *testing.T) {
	for _, svc := range Services {
		id := CaseWorkflowID(svc, "ORD-9")
		gotSvc, gotOrder, err := ParseCaseID(id)
		if err != nil || gotSvc != svc || gotOrder != "ORD-9" {
			t.Errorf("ParseCaseID(%q) = %q, %q, %v; want %q, ORD-9, nil", id, gotSvc, gotOrder, err, svc)
		}
	}
	for _, bad := range []string{"", "sos", "sos:", "spa:ORD-1", ":ORD-1"} {
		if _, _, err := ParseCaseID(bad); err == nil {
			t.Errorf("ParseCaseID(%q) = nil error; want an error", bad)
		}
	}
}

func TestValidateCaseInput(t *testing.T) {
	good := CaseInput{CaseID: "sos:O-1", OrderID: "O-1", CustomerID: "C-1", Service: ServiceSOS, Spec: SpecHandling,
		Quantity: 1, AmountCents: 100, Currency: "CNY", PaidAt: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	if err := ValidateCaseInput(good); err != nil {
		t.Fatalf("ValidateCaseInput(good) = %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*CaseInput)
	}{
		{"no order", func(c *CaseInput) { c.OrderID = "" }},
		{"order with colon", func(c *CaseInput) { c.OrderID = "a:b" }},
		{"no customer", func(c *CaseInput) { c.CustomerID = "" }},
		{"unknown service", func(c *CaseInput) { c.Service = "spa" }},
		{"sos without spec", func(c *CaseInput) { c.Spec = "" }},
		{"zero quantity", func(c *CaseInput) { c.Quantity = 0 }},
		{"negative amount", func(c *CaseInput) { c.AmountCents = -1 }},
		{"lower-case currency", func(c *CaseInput) { c.Currency = "cny" }},
		{"no paid_at", func(c *CaseInput) { c.PaidAt = time.Time{} }},
		{"case id not derived", func(c *CaseInput) { c.CaseID = "sos:O-2" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good
			tt.mutate(&in)
			if err := ValidateCaseInput(in); err == nil {
				t.Errorf("ValidateCaseInput(%+v) = nil; want an error", in)
			}
		})
	}
}

func TestSearchAttributesNamed(t *testing.T) {
	want := []string{"ServiceType", "CaseStage", "PartnerId", "CustomerId", "OrderId", "SlaStatus", "RefundPercent", "NextDeadline"}
	got := SearchAttributes()
	if len(got) != len(want) {
		t.Fatalf("SearchAttributes() has %d entries; want %d", len(got), len(want))
	}
	for _, n := range want {
		if _, ok := got[n]; !ok {
			t.Errorf("SearchAttributes() lacks %s", n)
		}
	}
}
