package activities

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
)

const hostile = `<script>alert("x")</script> | # [link](javascript:alert(1)) ![img](http://evil/p.png) *bold* <img src=x onerror=alert(1)>`

func sampleReport(spec string) ReportInput {
	t0 := time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC) // 09:30 in Shanghai
	due := t0.Add(20 * time.Minute)
	done := t0.Add(12 * time.Minute)
	hdue := t0.Add(72 * time.Hour)
	hdone := t0.Add(80 * time.Hour)
	return ReportInput{
		Key: "sos:O1/report/1", CaseID: "sos:O1", OrderID: "O1", CustomerID: "cust-9", PartnerID: "p1", PartnerName: "安全伙伴 P1",
		Spec: spec, Version: 1, GeneratedAt: t0.Add(90 * time.Hour),
		Symptoms: "CPU 100%, unknown process kdevtmpfsi", IncidentClass: "malware", IncidentType: "cryptominer",
		Hosts: []ReportHost{{InstanceID: "i-bp1aaa", IP: "10.0.0.1", OS: "CentOS 7"}, {InstanceID: "i-bp1bbb", IP: "10.0.0.2", OS: "Ubuntu 22.04"}},
		Process: []ReportStep{
			{At: t0.Add(12 * time.Minute), Step: "contact", Detail: "called the customer"},
			{At: t0.Add(2 * time.Hour), Step: "eradicate", Detail: "removed the miner and its cron entry"},
		},
		Containment:    []string{"blocked outbound 3333/tcp"},
		Cleaned:        []string{"/tmp/kdevtmpfsi", "crontab entry of user redis"},
		MalwareRemoved: true,
		Cause:          "Redis exposed without a password on 6379",
		Summary:        "Miner removed; no recurrence in 24h.",
		Recommendations: []string{
			"Bind Redis to 127.0.0.1 and set requirepass",
			"Close 6379 in the security group",
		},
		SLA: []ReportSLA{
			{Clause: "response", DueAt: &due, CompletedAt: &done},
			{Clause: "handling", DueAt: &hdue, CompletedAt: &hdone, Breached: true, RefundPercent: 50},
			{Clause: "effect"},
		},
		RefundPercent: 50, RefundAmountCents: 250000, Currency: "CNY",
	}
}

var sectionHeadings = []string{"事件概述", "排查对象", "处置过程", "处置结果", "加固建议", "SLA 履约情况"}

func TestRenderReportHTML(t *testing.T) {
	for _, spec := range []string{"handling", "analysis_remote", "analysis_onsite"} {
		t.Run(spec, func(t *testing.T) {
			in := sampleReport(spec)
			out, err := RenderReportHTML(in)
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(out, "<!DOCTYPE html>"))
			assert.Contains(t, out, "《安全事件应急响应报告》")
			assert.Contains(t, out, "<title>安全事件应急响应报告 — sos:O1 v1</title>")
			for _, h := range sectionHeadings {
				assert.Contains(t, out, h)
			}
			for _, s := range []string{"i-bp1aaa", "10.0.0.1", "CentOS 7", "i-bp1bbb", "Ubuntu 22.04",
				"有害程序事件 (malware)", "cryptominer", "安全伙伴 P1 (p1)", "CPU 100%",
				"2026-03-02 09:42:00", // first step, in Asia/Shanghai
				"2026-03-06 03:30:00", // generated
				"removed the miner", "/tmp/kdevtmpfsi", "Bind Redis to 127.0.0.1", "Miner removed",
				"响应时间 (response)", "处理时长 (handling)", "处置效果 (effect)", "50% · 2,500.00 CNY"} {
				assert.Contains(t, out, s)
			}
			assert.NotContains(t, out, "<script", "a report has no scripts")
			analysis := spec != "handling"
			assert.Equal(t, analysis, strings.Contains(out, "入侵原因分析"), "cause section for %s", spec)
			assert.Equal(t, analysis, strings.Contains(out, "Redis exposed without a password"), "cause text for %s", spec)
			if analysis {
				assert.Contains(t, out, "五、入侵原因分析")
				assert.Contains(t, out, "七、SLA 履约情况")
			} else {
				assert.Contains(t, out, "五、加固建议", "sections close up without the cause")
				assert.Contains(t, out, "六、SLA 履约情况")
			}
		})
	}
}

func TestRenderReportMarkdown(t *testing.T) {
	for _, spec := range []string{"handling", "analysis_remote", "analysis_onsite"} {
		t.Run(spec, func(t *testing.T) {
			out, err := RenderReportMarkdown(sampleReport(spec))
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(out, "# 《安全事件应急响应报告》\n"))
			for _, h := range sectionHeadings {
				assert.Contains(t, out, "\n## ")
				assert.Contains(t, out, h)
			}
			for _, s := range []string{"| 1 | i-bp1aaa | 10.0.0.1 | CentOS 7 |", "| 2 | i-bp1bbb | 10.0.0.2 | Ubuntu 22.04 |",
				"有害程序事件 (malware)", "| 2026-03-02 09:42:00 | contact | called the customer |",
				"\n\n- blocked outbound 3333/tcp\n\n**清除与恢复 Cleaned**\n\n- /tmp/kdevtmpfsi\n- crontab entry of user redis\n\n", "\n\n1. Bind Redis to 127.0.0.1 and set requirepass\n2. Close 6379 in the security group\n\n## ", "**恶意程序已清除 Malware removed:** 是",
				"| 处理时长 (handling) | 2026-03-05 09:30:00 | 2026-03-05 17:30:00 | 是 | 50% |",
				"| 处置效果 (effect) | — | — | 否 | 0% |", "50% · 2,500.00 CNY"} {
				assert.Contains(t, out, s)
			}
			analysis := spec != "handling"
			assert.Equal(t, analysis, strings.Contains(out, "## 五、入侵原因分析"), "cause section for %s", spec)
			assert.Equal(t, analysis, strings.Contains(out, "Redis exposed without a password"), "cause text for %s", spec)
		})
	}
}

func TestRenderReportCauseUndetermined(t *testing.T) {
	in := sampleReport("analysis_onsite")
	in.Cause, in.CauseUndetermined = "", true
	h, err := RenderReportHTML(in)
	require.NoError(t, err)
	m, err := RenderReportMarkdown(in)
	require.NoError(t, err)
	for _, out := range []string{h, m} {
		assert.Contains(t, out, "原因无法确定 (cause undetermined)")
		assert.NotContains(t, out, "未提供 (not provided)")
	}
	// The handling spec has no cause section at all, even when a cause was sent.
	in.Spec, in.CauseUndetermined = "handling", true
	h, err = RenderReportHTML(in)
	require.NoError(t, err)
	assert.NotContains(t, h, "原因无法确定")
}

func TestRenderReportEscapesHostileText(t *testing.T) {
	in := sampleReport("analysis_remote")
	in.Symptoms = hostile + "\n# injected heading\n- injected item\n1. injected list\n    indented code"
	in.Cause = hostile
	in.Hosts = append(in.Hosts, ReportHost{InstanceID: "i-x|<b>y</b>", IP: "1.2.3.4", OS: "line1\nline2 | col"})
	in.Process = append(in.Process, ReportStep{Step: "<b>bold</b>", Detail: hostile})
	in.Recommendations = append(in.Recommendations, hostile)
	in.PartnerName = "<i>P</i>"
	in.IncidentType = "</td><script>x</script>"
	in.Cleaned = append(in.Cleaned, "a\u202Eevil") // right-to-left override

	h, err := RenderReportHTML(in)
	require.NoError(t, err)
	assert.NotContains(t, h, "<script")
	assert.NotContains(t, h, "<img")
	assert.NotContains(t, h, "<b>")
	assert.NotContains(t, h, "<i>P")
	assert.Contains(t, h, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
	assert.NotContains(t, h, "\u202E")

	m, err := RenderReportMarkdown(in)
	require.NoError(t, err)
	assert.NotContains(t, m, "<script")
	assert.NotContains(t, m, "<img")
	assert.NotContains(t, m, "<b>")
	assert.NotContains(t, m, "<i>")
	assert.NotRegexp(t, `(^|[^\\])\]\(`, m, "no link or image syntax survives")
	assert.NotContains(t, m, "\u202E")
	assert.Contains(t, m, "&lt;script&gt;alert(\"x\")&lt;/script&gt; \\| # \\[link\\](javascript:alert(1)) !\\[img\\]")
	assert.Contains(t, m, "\\# injected heading")
	assert.Contains(t, m, "\\- injected item")
	assert.Contains(t, m, "1\\. injected list")
	assert.NotContains(t, m, "\n    indented code", "indentation could open a code block")
	assert.Contains(t, m, "| 3 | i-x\\|&lt;b&gt;y&lt;/b&gt; | 1.2.3.4 | line1<br>line2 \\| col |")
	for _, line := range strings.Split(m, "\n") {
		if strings.HasPrefix(line, "#") {
			assert.True(t, strings.HasPrefix(line, "# 《") || strings.HasPrefix(line, "## "), "only our headings: %q", line)
		}
		if strings.HasPrefix(line, "| 3 | i-x") {
			assert.Equal(t, 5, strings.Count(line, " | ")+2, "a host row keeps 4 columns: %q", line)
		}
	}
}

func TestRenderReportDeterministic(t *testing.T) {
	in := sampleReport("analysis_remote")
	h1, err := RenderReportHTML(in)
	require.NoError(t, err)
	m1, err := RenderReportMarkdown(in)
	require.NoError(t, err)
	for range 5 {
		h, err := RenderReportHTML(in)
		require.NoError(t, err)
		m, err := RenderReportMarkdown(in)
		require.NoError(t, err)
		require.Equal(t, h1, h)
		require.Equal(t, m1, m)
	}
}

func TestRenderReportEmpty(t *testing.T) {
	in := ReportInput{CaseID: "sos:E", Version: 1, Spec: "analysis_remote"}
	h, err := RenderReportHTML(in)
	require.NoError(t, err)
	assert.Contains(t, h, "未分类 (unclassified)")
	assert.Contains(t, h, "未提供 (not provided)")
	assert.Contains(t, h, "0% · 0.00 CNY")
	m, err := RenderReportMarkdown(in)
	require.NoError(t, err)
	assert.Contains(t, m, "0% · 0.00 CNY")
	assert.Contains(t, m, "无 (none)")
}

func TestFormatCents(t *testing.T) {
	tests := []struct {
		cents int64
		want  string
	}{
		{0, "0.00"},
		{5, "0.05"},
		{99, "0.99"},
		{100, "1.00"},
		{99999, "999.99"},
		{100000, "1,000.00"},
		{250000, "2,500.00"},
		{123456789, "1,234,567.89"},
		{-250050, "-2,500.50"},
		{-9223372036854775808, "-92,233,720,368,547,758.08"},
		{9223372036854775807, "92,233,720,368,547,758.07"},
	}
	for _, tt := range tests {
		if got := FormatCents(tt.cents); got != tt.want {
			t.Errorf("FormatCents(%d) = %q; want %q", tt.cents, got, tt.want)
		}
	}
}

func TestIncidentClassName(t *testing.T) {
	tests := []struct{ class, want string }{
		{"malware", "有害程序事件"},
		{"network_attack", "网络攻击事件"},
		{"information_destruction", "信息破坏事件"},
		{"content_security", "信息内容安全事件"},
		{"other", "other"},
	}
	for _, tt := range tests {
		if got := IncidentClassName(tt.class); got != tt.want {
			t.Errorf("IncidentClassName(%q) = %q; want %q", tt.class, got, tt.want)
		}
	}
}

func TestRenderReportActivity(t *testing.T) {
	store := dbtest.MustOpen(t)
	a := &Activities{Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	ctx := context.Background()

	count := func() int {
		n, err := store.NewSelect().Model((*db.Report)(nil)).Where("case_id = ?", "sos:O1").Count(ctx)
		require.NoError(t, err)
		return int(n)
	}
	run := func(in ReportInput) ReportRef {
		t.Helper()
		val, err := env.ExecuteActivity(a.RenderReport, in)
		require.NoError(t, err)
		var ref ReportRef
		require.NoError(t, val.Get(&ref))
		return ref
	}

	in := sampleReport("analysis_remote")
	ref := run(in)
	assert.Equal(t, ReportRef{CaseID: "sos:O1", Version: 1}, ref)
	assert.Equal(t, 2, count())

	wantHTML, err := RenderReportHTML(in)
	require.NoError(t, err)
	wantMD, err := RenderReportMarkdown(in)
	require.NoError(t, err)
	h, err := store.LatestReport(ctx, "sos:O1", db.KindIncidentReport, db.FormatHTML)
	require.NoError(t, err)
	m, err := store.LatestReport(ctx, "sos:O1", db.KindIncidentReport, db.FormatMarkdown)
	require.NoError(t, err)
	assert.Equal(t, wantHTML, h.Content)
	assert.Equal(t, wantMD, m.Content)
	assert.Equal(t, "安全事件应急响应报告 — sos:O1 v1", h.Title)
	assert.Equal(t, h.Title, m.Title)
	assert.Equal(t, 1, h.Version)
	assert.Equal(t, db.KindIncidentReport, h.Kind)
	assert.Equal(t, db.KindIncidentReport, m.Kind)

	// A retry, even one whose input drifted, stores nothing new and keeps the first content.
	again := in
	again.Summary = "changed on retry"
	assert.Equal(t, ref, run(again))
	assert.Equal(t, 2, count())
	h2, err := store.LatestReport(ctx, "sos:O1", db.KindIncidentReport, db.FormatHTML)
	require.NoError(t, err)
	assert.Equal(t, h.Content, h2.Content)
	assert.Equal(t, h.CreatedAt, h2.CreatedAt)

	// A new version (after a dispute) is stored beside it and becomes the latest.
	v2 := in
	v2.Version, v2.Key = 2, "sos:O1/report/2"
	assert.Equal(t, ReportRef{CaseID: "sos:O1", Version: 2}, run(v2))
	assert.Equal(t, 4, count())
	m2, err := store.LatestReport(ctx, "sos:O1", db.KindIncidentReport, db.FormatMarkdown)
	require.NoError(t, err)
	assert.Equal(t, 2, m2.Version)
	assert.Contains(t, m2.Content, "v2")
}

func TestRenderReportActivityInvalid(t *testing.T) {
	a := &Activities{Store: dbtest.MustOpen(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	for _, in := range []ReportInput{{CaseID: "", Version: 1}, {CaseID: "sos:O1", Version: 0}} {
		_, err := env.ExecuteActivity(a.RenderReport, in)
		require.Error(t, err)
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(err, &appErr), "%v", err)
		assert.Equal(t, ErrTypeInvalidReport, appErr.Type())
		assert.True(t, appErr.NonRetryable())
	}
}
