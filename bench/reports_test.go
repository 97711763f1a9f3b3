package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
)

// reportCases is how many closed cases BenchmarkReports seeds.
const reportCases = 100_000

// seedReportCases writes n closed SOS and 等保 cases spread over 2025 straight to the store, in batches:
// each with its order, an offer and an acceptance, a response and a handling clock (one in ten responses
// breached, with its refund, half of them paid) and a rating.
func seedReportCases(b *testing.B, s *db.Store, n int) {
	b.Helper()
	ctx := context.Background()
	partners := []string{"p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"}
	for _, id := range partners {
		if err := s.AddPartner(ctx, &db.Partner{ID: id, Name: id, Capacity: 10, Active: true, Services: []string{"sos", "dengbao"}}); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Date(2024, 12, 31, 16, 0, 0, 0, time.UTC) // 1 January 2025, Beijing
	step := 365 * 24 * time.Hour / time.Duration(n)
	const batch = 2000
	for lo := 0; lo < n; lo += batch {
		var (
			orders  []db.Order
			cases   []db.Case
			events  []db.CaseEvent
			clocks  []db.SLAClock
			refunds []db.Refund
		)
		for i := lo; i < min(lo+batch, n); i++ {
			service := "sos"
			if i%4 == 3 {
				service = "dengbao"
			}
			p := partners[i%len(partners)]
			id := fmt.Sprintf("%s:B%06d", service, i)
			opened := start.Add(time.Duration(i) * step)
			closed := opened.Add(30 * time.Hour)
			accepted := opened.Add(time.Duration(5+i%20) * time.Minute)
			orders = append(orders, db.Order{OrderID: fmt.Sprintf("B%06d", i), CustomerID: "c", Service: service, Quantity: 1, AmountCents: 1000_00,
				Currency: "CNY", PaidAt: opened, BodyHash: "h", CaseID: id, WorkflowID: id, CreatedAt: opened})
			cases = append(cases, db.Case{CaseID: id, WorkflowID: id, Service: service, Stage: "closed", Status: db.CaseClosed, PartnerID: p,
				OrderID: fmt.Sprintf("B%06d", i), AmountCents: 1000_00, SLAStatus: "met", OpenedAt: opened, UpdatedAt: closed, ClosedAt: &closed, Rating: 1 + i%5})
			events = append(events,
				db.CaseEvent{Key: id + "/offer", CaseID: id, At: opened, Actor: "system", Event: "partner_offered", PartnerID: p},
				db.CaseEvent{Key: id + "/accept", CaseID: id, At: accepted, Actor: "partner", Event: "partner_accepted", PartnerID: p, OfferedAt: &opened})
			respDone := opened.Add(time.Duration(20+i%40) * time.Minute)
			status := "met"
			if i%10 == 0 {
				status = "breached"
				r := db.Refund{Key: id + "/refund/response", CaseID: id, Clause: "response", Percent: 10, AmountCents: 100_00, Reason: "late", CreatedAt: respDone, State: db.RefundOwed}
				if i%20 == 0 {
					r.State = db.RefundPaid
				}
				r.ID = db.RefundID(r.Key)
				refunds = append(refunds, r)
			}
			handDone := respDone.Add(time.Duration(2+i%24) * time.Hour)
			clocks = append(clocks,
				db.SLAClock{Key: id + "/clock/0", CaseID: id, Service: service, Clause: "response", PartnerID: p, State: "completed", Status: status,
					StartedAt: opened, CompletedAt: &respDone, UpdatedAt: closed},
				db.SLAClock{Key: id + "/clock/1", CaseID: id, Service: service, Clause: "handling", PartnerID: p, State: "completed", Status: "met",
					StartedAt: respDone, CompletedAt: &handDone, UpdatedAt: closed})
		}
		for _, rows := range []any{&orders, &cases, &events, &clocks, &refunds} {
			if _, err := s.NewInsert().Model(rows).Exec(ctx); err != nil {
				b.Fatalf("seed: %v", err)
			}
		}
	}
	if _, err := s.ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkReports measures the SLA report (grouped by clause) and the partner scorecard over a year and
// over a month of 100,000 closed cases in PostgreSQL (TEST_DATABASE_URL), at the store (the API adds its
// JSON encoding). It reports the p50 and p99 of its iterations. Without PostgreSQL it is skipped.
func BenchmarkReports(b *testing.B) {
	if os.Getenv(dbtest.EnvURL) == "" {
		b.Skip("BenchmarkReports needs PostgreSQL: set " + dbtest.EnvURL)
	}
	s := dbtest.MustOpen(b)
	t0 := time.Now()
	seedReportCases(b, s, reportCases)
	seeded := time.Since(t0)
	b.Logf("seeded %d cases in %s", reportCases, seeded.Round(time.Millisecond))
	ctx := context.Background()
	cst := time.FixedZone("CST", 8*3600)
	windows := []struct {
		name     string
		from, to time.Time
	}{
		{"year", time.Date(2025, 1, 1, 0, 0, 0, 0, cst), time.Date(2026, 1, 1, 0, 0, 0, 0, cst)},
		{"month", time.Date(2025, 6, 1, 0, 0, 0, 0, cst), time.Date(2025, 7, 1, 0, 0, 0, 0, cst)},
	}
	type figure struct {
		p50, p99 float64
		n        int
	}
	figures := map[string]figure{}
	for _, w := range windows {
		for _, report := range []struct {
			name string
			run  func() error
		}{
			{"sla", func() error {
				_, err := s.SLAReport(ctx, db.SLAReportFilter{From: w.from, To: w.to, GroupBy: db.GroupClause})
				return err
			}},
			{"partners", func() error {
				_, err := s.PartnerReport(ctx, db.PartnerReportFilter{From: w.from, To: w.to})
				return err
			}},
		} {
			b.Run(w.name+"/"+report.name, func(b *testing.B) {
				var took []time.Duration
				for b.Loop() {
					t := time.Now()
					if err := report.run(); err != nil {
						b.Fatal(err)
					}
					took = append(took, time.Since(t))
				}
				slices.Sort(took)
				at := func(p int) float64 {
					return float64(took[min(len(took)-1, (p*len(took)+99)/100-1)]) / float64(time.Millisecond)
				}
				b.ReportMetric(at(50), "p50-ms")
				b.ReportMetric(at(99), "p99-ms")
				figures[w.name+"/"+report.name] = figure{at(50), at(99), len(took)}
			})
		}
	}
	out := os.Getenv(EnvReportsOut)
	if out == "" || len(figures) < 4 {
		return
	}
	target := map[string]float64{"year": 300, "month": 100}
	var md strings.Builder
	md.WriteString("# Reports benchmark\n\n<!-- Written by `make bench` (BenchmarkReports in bench/reports_test.go, PostgreSQL); do not edit. -->\n\n")
	fmt.Fprintf(&md, "%d closed cases of 2025 in PostgreSQL (two clocks, an offer and an acceptance each; a refund every tenth), seeded in %s;\n", reportCases, seeded.Round(time.Second))
	fmt.Fprintf(&md, "each report %d times at the store, on this machine (%d cores). Targets: a year's p99 ≤ 300 ms, a month's ≤ 100 ms.\n\n", figures["year/sla"].n, runtime.NumCPU())
	md.WriteString("| report | window | p50 ms | p99 ms | target met |\n|---|---|---|---|---|\n")
	for _, w := range []string{"year", "month"} {
		for _, r := range []string{"sla", "partners"} {
			f := figures[w+"/"+r]
			met := "yes"
			if f.p99 > target[w] {
				met = "no"
			}
			fmt.Fprintf(&md, "| %s | %s | %.1f | %.1f | %s |\n", map[string]string{"sla": "SLA, by clause", "partners": "partner scorecard"}[r], w, f.p50, f.p99, met)
		}
	}
	md.WriteString("\nMedians and percentiles are computed by PostgreSQL (`percentile_disc`, the nearest rank), so a year's report reads a row per group.\n")
	if err := os.WriteFile(out, []byte(md.String()), 0o644); err != nil {
		b.Fatal(err)
	}
}

// EnvReportsOut names the file BenchmarkReports writes its figures to (make bench: docs/benchmarks-reports.md).
const EnvReportsOut = "STEWARD_BENCH_REPORTS_OUT"
