package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/api"
)

// chromiumPath is Debian's chromium package, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// TestWebUICaseStory opens an SOS case with a breached response clock in the embedded Temporal Web UI, in
// a real browser, and checks that a manager reads the case's story there: stage, partner, clocks and the
// refund owed. The page's screenshot goes to $STEWARD_UI_SCREENSHOT when set (docs/web-ui-case.png).
func TestWebUICaseStory(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run the Web UI browser test, but %s is missing (apt-get install chromium fonts-noto-cjk): %v", chromiumPath, err)
		}
		t.Skipf("the Web UI browser test needs Debian's chromium at %s (apt-get install chromium fonts-noto-cjk): %v", chromiumPath, err)
	}
	creds, stop := startDev(t, t.TempDir())
	defer stop()
	require.NotEmpty(t, creds.UIURL, "steward dev started without the Web UI")

	// An SOS case paid three days ago: its response clock ran out long before the partner accepts.
	body := []byte(`{"order_id":"UI-1","customer_id":"c-ui","service":"sos","spec":"handling","quantity":1,"amount_cents":500000,"currency":"CNY","paid_at":"` +
		time.Now().Add(-72*time.Hour).UTC().Format(time.RFC3339) + `","contact":{"name":"Wang","phone":"+86 138 0000 0000"}}`)
	ts := time.Now()
	req, _ := http.NewRequest(http.MethodPost, creds.APIURL+"/v1/purchases", bytes.NewReader(body))
	req.Header.Set(api.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(api.HeaderSignature, api.Sign([]byte(creds.MarketplaceSecret), ts, body))
	status, b := uiDo(t, req)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	var purchase api.PurchaseResult
	require.NoError(t, json.Unmarshal(b, &purchase))
	caseURL := creds.APIURL + "/v1/cases/" + url.PathEscape(purchase.CaseID)

	var view uiCaseView
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		view = uiGetCase(c, caseURL, creds.ManagerToken)
		assert.NotEmpty(c, view.PartnerID, "the case is offered to a demo partner")
	}, 30*time.Second, 200*time.Millisecond)
	partner := view.PartnerID
	token := creds.Partners[partner]
	require.NotEmpty(t, token, "no token for the offered partner %s", partner)
	req, _ = http.NewRequest(http.MethodPost, caseURL+"/steps/accept", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	status, b = uiDo(t, req)
	require.Equal(t, http.StatusOK, status, "%s accepts: %s", partner, b)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		view = uiGetCase(c, caseURL, creds.ManagerToken)
		assert.Equal(c, 50, view.Refund.Percent, "the breached response clock owes half the order")
		assert.NotEqual(c, "assignment", view.Stage)
	}, 30*time.Second, 200*time.Millisecond)
	t.Logf("case %s: stage %s, partner %s, refund %d%% (%d cents), clocks %+v", view.CaseID, view.Stage, view.PartnerID,
		view.Refund.Percent, view.Refund.AmountCents, view.SLA)

	// The browser: headless, without the sandbox (CI runs as root), a manager's window and clock (the UI
	// shows times in the browser's zone). The deadline bounds the browser's whole life.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1400, 1000), chromedp.Env("TZ=Asia/Shanghai"))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	deadline, cancelDeadline := context.WithTimeout(allocCtx, 2*time.Minute)
	defer cancelDeadline()
	ctx, cancelBrowser := chromedp.NewContext(deadline, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()

	// The UI's route for a workflow, without a run ID, opens its latest run (at .../{run ID}/timeline); the
	// workflow's summary, details and current details are on the run's "User Metadata" tab.
	page := creds.UIURL + "/namespaces/" + url.PathEscape(creds.Namespace) + "/workflows/" + url.PathEscape(view.WorkflowID)
	start := time.Now()
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1400, 1000), chromedp.Navigate(page),
		chromedp.Click(chromedp.CSS(`a[href$="/user-metadata"]`))), "open %s and its User Metadata tab", page)
	var seen uiPage
	var expanded []string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		// Any collapsed panel of the workflow's summary and details is opened; then the page is read.
		opened, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](uiExpandDetails))
		if !assert.NoError(c, err) {
			return
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[uiPage](uiReadPage))
		if !assert.NoError(c, err) {
			return
		}
		for _, s := range []string{partner, view.Stage, "breached"} {
			if !strings.Contains(got.Frame(uiCurrentDetails), s) {
				c.Errorf("the current details do not show %q (yet); visible text:\n%s", s, &got)
			}
		}
		seen, expanded = got, append(expanded, opened...)
	}, 60*time.Second, 500*time.Millisecond, "the case page %s did not render the case's current details", page)
	location, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	t.Logf("%s rendered in %s at %s (opened panels: %q); visible text:\n%s", page, time.Since(start).Round(time.Millisecond),
		location, expanded, &seen)

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	require.NoError(t, err)
	for _, path := range []string{filepath.Join(t.TempDir(), "web-ui-case.png"), os.Getenv("STEWARD_UI_SCREENSHOT")} {
		if path != "" {
			require.NoError(t, os.WriteFile(path, shot, 0o644))
			t.Logf("screenshot: %s", path)
		}
	}

	// The page tells the case's story: stage, partner, the clocks and the refund owed in money, with
	// deadlines in Beijing time. The current details, which the workflow keeps up to date, tell its state.
	refund := "¥" + uiYuan(view.Refund.AmountCents)
	text, current := seen.String(), seen.Frame(uiCurrentDetails)
	var missing []string
	for _, want := range []string{view.Stage, partner, "response", "handling", "breached", "50%", refund, "CST"} {
		if !strings.Contains(text, want) {
			missing = append(missing, strconv.Quote(want))
		}
	}
	assert.Empty(t, missing, "the case page %s does not show %s; its visible text:\n%s", location, strings.Join(missing, ", "), text)
	missing = nil
	for _, want := range []string{view.Stage, partner, "response", "breached", refund, "CST"} {
		if !strings.Contains(current, want) {
			missing = append(missing, strconv.Quote(want))
		}
	}
	assert.Empty(t, missing, "the current details on %s do not show %s; the page's visible text:\n%s", location, strings.Join(missing, ", "), text)
}

// uiCurrentDetails is the ID of the frame in which the UI renders a workflow's current details (Markdown).
const uiCurrentDetails = "user-metadata-current-details"

// uiPage is the text a reader sees on a page: the document's and its frames', in the document's order. The
// UI renders Markdown (a workflow's summary, details and current details) in frames of its own origin.
type uiPage struct {
	Text   string `json:"text"`
	Frames []struct {
		ID   string `json:"id"`
		Text string `json:"text"`
	} `json:"frames"`
}

// Frame is the text of the frame with the ID, "" when there is none.
func (p *uiPage) Frame(id string) string {
	for _, f := range p.Frames {
		if f.ID == id {
			return f.Text
		}
	}
	return ""
}

// String is the visible text, each frame's after the document's, blank lines squeezed.
func (p *uiPage) String() string {
	var b strings.Builder
	b.WriteString(p.Text)
	for _, f := range p.Frames {
		b.WriteString("\n[frame " + f.ID + "]\n" + f.Text)
	}
	return uiBlankLines.ReplaceAllString(b.String(), "\n\n")
}

var uiBlankLines = regexp.MustCompile(`\n[ \t]*(\n[ \t]*)+`)

const uiReadPage = `(() => {
	const frames = [];
	document.querySelectorAll('iframe').forEach((f, i) => {
		try {
			if (f.contentDocument && f.contentDocument.body) frames.push({id: f.id || 'frame-' + i, text: f.contentDocument.body.innerText});
		} catch (e) { /* a frame of another origin */ }
	});
	return {text: document.body.innerText, frames};
})()`

// uiExpandDetails clicks every collapsed disclosure labelled with the workflow's summary or details and
// returns the labels it opened. UI 2.54.1 shows them on the User Metadata tab, not collapsed.
const uiExpandDetails = `(() => {
	const opened = [];
	for (const b of document.querySelectorAll('[aria-expanded="false"]')) {
		const label = (b.innerText || b.getAttribute('aria-label') || '').trim();
		if (/Summary|Details/i.test(label)) { b.click(); opened.push(label); }
	}
	return opened;
})()`

// uiCaseView is the part of the case view that the page must show.
type uiCaseView struct {
	CaseID     string `json:"case_id"`
	WorkflowID string `json:"workflow_id"`
	Stage      string `json:"stage"`
	PartnerID  string `json:"partner_id"`
	SLA        []struct {
		Clause        string `json:"clause"`
		Status        string `json:"status"`
		RefundPercent int    `json:"refund_percent"`
	} `json:"sla"`
	Refund struct {
		Percent     int   `json:"percent"`
		AmountCents int64 `json:"amount_cents"`
	} `json:"refund"`
}

func uiDo(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, b
}

func uiGetCase(c *assert.CollectT, caseURL, token string) uiCaseView {
	var v uiCaseView
	req, _ := http.NewRequest(http.MethodGet, caseURL, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if !assert.NoError(c, err) {
		return v
	}
	defer res.Body.Close()
	if assert.Equal(c, http.StatusOK, res.StatusCode) {
		assert.NoError(c, json.NewDecoder(res.Body).Decode(&v))
	}
	return v
}

// uiYuan formats cents as the page shows money: 250000 → "2,500.00".
func uiYuan(cents int64) string {
	s := strconv.FormatInt(cents/100, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s + "." + strconv.FormatInt(100+cents%100, 10)[1:]
}
