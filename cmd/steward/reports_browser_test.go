package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// TestReportsPage signs in to the managers' page (/reports) of the dev stack through its form, in a real
// browser, with six months of cases seeded into the stack's database, and checks the figures a manager
// reads: each clause's attainment, the refunds in yuan, the partners' rows, and links to the Web UI. The
// page's screenshot goes to $STEWARD_REPORTS_SCREENSHOT when set (docs/reports-page.png).
func TestReportsPage(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run the reports browser test, but %s is missing (apt-get install chromium fonts-noto-cjk): %v", chromiumPath, err)
		}
		t.Skipf("the reports browser test needs Debian's chromium at %s (apt-get install chromium fonts-noto-cjk): %v", chromiumPath, err)
	}
	dir := t.TempDir()
	creds, stop := startDev(t, dir)
	defer stop()
	require.NotEmpty(t, creds.UIURL, "steward dev started without the Web UI")

	ctx := context.Background()
	store, err := db.Open(ctx, "sqlite:"+filepath.Join(dir, "steward.db"))
	require.NoError(t, err)
	defer store.Close()
	want := seedReports(t, store, time.Now())

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1400, 1000), chromedp.Env("TZ=Asia/Shanghai"))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	deadline, cancelDeadline := context.WithTimeout(allocCtx, 2*time.Minute)
	defer cancelDeadline()
	bctx, cancelBrowser := chromedp.NewContext(deadline, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()

	// The page without a session is the sign-in form; the manager's token signs in.
	page := creds.APIURL + "/reports"
	require.NoError(t, chromedp.Do(bctx, chromedp.EmulateViewport(1400, 1000), chromedp.Navigate(page), chromedp.WaitVisible(chromedp.ID("token"))))
	form, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
	require.NoError(t, err)
	assert.Contains(t, form, "经理令牌 Manager token")
	require.NoError(t, chromedp.Do(bctx, chromedp.SendKeys(chromedp.ID("token"), creds.ManagerToken),
		chromedp.Click(chromedp.CSS(`button[type=submit]`))))
	require.NoError(t, chromedp.Do(bctx, chromedp.WaitVisible(chromedp.ID("partners"))), "sign in on %s", page)
	location, err := chromedp.Run(bctx, chromedp.Location())
	require.NoError(t, err)
	assert.Equal(t, page, location, "the form redirects to the page")
	text, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
	require.NoError(t, err)
	t.Logf("%s; visible text:\n%s", location, text)

	// The session is a cookie the page's script cannot read (HttpOnly): document.cookie is empty.
	jsCookie, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.cookie`))
	require.NoError(t, err)
	assert.Empty(t, jsCookie)

	var missing []string
	for _, s := range want {
		if !strings.Contains(text, s) {
			missing = append(missing, strconv.Quote(s))
		}
	}
	assert.Empty(t, missing, "the page does not show %s; its visible text:\n%s", strings.Join(missing, ", "), text)

	// Each chart links to the Web UI's query of the service's breached cases.
	hrefs, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#attainment a')].map(a => new URL(a.getAttribute('href'), location.href).href)`))
	require.NoError(t, err)
	ui := creds.UIURL + "/namespaces/" + url.PathEscape(creds.Namespace) + "/workflows?query="
	found := false
	for _, h := range hrefs {
		assert.True(t, strings.HasPrefix(h, ui), "a chart's link %s is not to the Web UI", h)
		if q, err := url.QueryUnescape(strings.TrimPrefix(h, ui)); err == nil && strings.HasPrefix(q, "ServiceType = 'sos' AND SlaStatus = 'breached' AND StartTime >= ") {
			found = true
		}
	}
	assert.True(t, found, "no link to the breached SOS cases among %q", hrefs)

	// Sorting the scorecard by breaches, most first, is a link away.
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(page+"?sort=breaches&dir=desc"), chromedp.WaitVisible(chromedp.ID("partners"))))
	first, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#partners tbody tr:first-child td:first-child`)))
	require.NoError(t, err)
	assert.Equal(t, "demo-sec-b (Demo Security B)", strings.TrimSpace(first))
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.ID("partners"))))

	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	for _, path := range []string{filepath.Join(t.TempDir(), "reports-page.png"), os.Getenv("STEWARD_REPORTS_SCREENSHOT")} {
		if path != "" {
			require.NoError(t, os.WriteFile(path, shot, 0o644))
			t.Logf("screenshot: %s", path)
		}
	}

	// Signing out ends the session: the page is the form again.
	require.NoError(t, chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`a[href="/reports/logout"]`)), chromedp.WaitVisible(chromedp.ID("token"))))
}

// seedReports writes six months of closed cases (the six before now's) into the dev stack's database, as the record step would:
// SOS cases of demo-sec-a (response met but once) and demo-sec-b (response breached every other month, each
// breach a refund of half the order, some paid), and butler cases of demo-sec-c. It returns text the page
// must show.
func seedReports(t *testing.T, store *db.Store, now time.Time) []string {
	t.Helper()
	ctx := context.Background()
	now = now.In(sla.China)
	thisMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, sla.China)
	met, breached := 0, 0
	var refundB, paidB int64
	n := 0
	record := func(service, partner, clause string, opened time.Time, isBreached, paid bool, rating int) {
		n++
		order := fmt.Sprintf("RPT-%03d", n)
		caseID := service + ":" + order
		closed := opened.Add(26 * time.Hour)
		c := &db.Case{CaseID: caseID, WorkflowID: caseID, Service: service, Stage: workflows.StageClosed, Status: db.CaseClosed, PartnerID: partner,
			CustomerID: "c-" + order, OrderID: order, AmountCents: 500000, SLAStatus: workflows.SLAMet, OpenedAt: opened, UpdatedAt: closed,
			ClosedAt: &closed, Rating: rating, Revision: 1}
		if isBreached {
			c.SLAStatus = workflows.SLABreached
		}
		_, _, err := store.PutOrderAndCase(ctx, &db.Order{OrderID: order, CustomerID: c.CustomerID, Service: service, Quantity: 1, AmountCents: 500000,
			Currency: "CNY", PaidAt: opened, BodyHash: "h-" + order, CaseID: caseID, WorkflowID: caseID, CreatedAt: opened,
			Contact: db.Contact{Name: "Li Si", Phone: "13900000000"}}, c)
		require.NoError(t, err)
		accepted := opened.Add(8 * time.Minute)
		events := []db.CaseEvent{
			{Key: caseID + "/offer", CaseID: caseID, At: opened, Actor: "steward", Event: "partner_offered", PartnerID: partner},
			{Key: caseID + "/accept", CaseID: caseID, At: accepted, Actor: partner, Event: "partner_accepted", PartnerID: partner, OfferedAt: &opened},
		}
		done := opened.Add(14 * time.Minute)
		status := "met"
		var refunds []db.Refund
		if isBreached {
			done, status = opened.Add(50*time.Minute), "breached"
			r := db.Refund{Key: caseID + "/refund/" + clause, CaseID: caseID, Clause: clause, Percent: 50, AmountCents: 250000, Reason: clause + " breached",
				CreatedAt: opened.Add(20 * time.Minute)}
			if paid {
				r.State, r.PaidAt, r.Reference = db.RefundPaid, &closed, "PAY-"+order
				paidB += r.AmountCents
			}
			refunds = append(refunds, r)
			refundB += r.AmountCents
		}
		clocks := []db.SLAClock{{Key: caseID + "/" + clause, CaseID: caseID, Service: service, Clause: clause, PartnerID: partner, State: "completed",
			Status: status, StartedAt: opened, CompletedAt: &done}}
		if isBreached {
			clocks[0].BreachedAt = &done
		}
		if service == workflows.ServiceSOS {
			clocks = append(clocks, db.SLAClock{Key: caseID + "/handling", CaseID: caseID, Service: service, Clause: "handling", PartnerID: partner,
				State: "completed", Status: "met", StartedAt: accepted, CompletedAt: &closed})
			if isBreached {
				breached++
			} else {
				met++
			}
		}
		require.NoError(t, store.RecordCase(ctx, c, events, refunds, nil, clocks...))
	}
	for i := 6; i >= 1; i-- { // the six months before this one
		m := thisMonth.AddDate(0, -i, 0)
		day := func(d int) time.Time { return m.Add(time.Duration(d)*24*time.Hour + 10*time.Hour) }
		for d := range 3 {
			record(workflows.ServiceSOS, "demo-sec-a", "response", day(d+1), i == 3 && d == 0, false, 5)
		}
		record(workflows.ServiceSOS, "demo-sec-b", "response", day(5), i%2 == 1, i == 5, 3)
		record(workflows.ServiceSOS, "demo-sec-b", "response", day(6), false, false, 4)
		record(workflows.ServiceButler, "demo-sec-c", "onboarding_contact", day(7), false, false, 0)
	}
	att := strconv.FormatFloat(float64(int(1000*float64(met)/float64(met+breached)+0.5))/10, 'f', -1, 64) + "%"
	return []string{
		"SLA 达成率 attainment",
		"sos · response", att + " 达成率 attainment · 开始 started 30 · 达成 met 26 · 违约 breached 4 · 进行中 open 0",
		"butler · onboarding_contact", "100% 达成率 attainment · 开始 started 6 · 达成 met 6",
		"应退 owed " + yuanSign(refundB) + " · 已付 paid " + yuanSign(paidB),
		"demo-sec-a (Demo Security A)\t18\t18\t0\t0\t8 min\t14 min\t94.4%\t100%\t1\t¥2,500.00\t0\t5.0\t0 / 5",
		"demo-sec-b (Demo Security B)\t12\t12\t0\t0\t8 min\t14 min\t75%\t100%\t3\t¥7,500.00\t0\t3.5\t0 / 3",
		"合作方记分卡 Partner scorecard",
	}
}

func yuanSign(cents int64) string { return "¥" + uiYuan(cents) }
