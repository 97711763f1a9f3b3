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

func sampleDocument() Document {
	return Document{
		Key: "dengbao:D1/service_report/1", CaseID: "dengbao:D1", Kind: db.KindServiceReport, Version: 1,
		Title:       "等保整改服务报告",
		GeneratedAt: time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC), // 10:00 in Shanghai
		Meta: []DocField{
			{Label: "案例编号 Case", Value: "dengbao:D1"},
			{Label: "订单编号 Order", Value: "D1"},
			{Label: "客户 Customer", Value: "cust-7"},
			{Label: "服务商 Partner", Value: "安全伙伴 P1 (p1)"},
			{Label: "备注 Note", Value: ""},
		},
		Sections: []DocSection{
			{Heading: "服务概述", Paragraphs: []string{"整改覆盖 3 台 ECS。", "第二段\n第二行"}},
			{Heading: "整改工作项", Items: []string{"差距报告解读与整改方案", "产品选型与部署指导"}},
			{Heading: "整改结果", Table: &DocTable{
				Header: []string{"控制点 Control", "整改前 Before", "整改后 After"},
				Rows: [][]string{
					{"身份鉴别", "弱口令", "已启用双因素"},
					{"访问控制", "6379 对公网开放"}, // short row: padded
				},
			}},
			{Heading: "测评结论", Paragraphs: []string{"测评通过。"}, Items: []string{"复测 2026-04-30"},
				Table: &DocTable{Header: []string{"项目", "结果"}}},
			{Heading: "遗留问题"},
		},
	}
}

var documentHeadings = []string{"一、服务概述", "二、整改工作项", "三、整改结果", "四、测评结论", "五、遗留问题"}

func TestRenderDocumentHTML(t *testing.T) {
	out, err := RenderDocumentHTML(sampleDocument())
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(out, "<!DOCTYPE html>"))
	assert.Contains(t, out, "<title>等保整改服务报告 — dengbao:D1 v1</title>")
	assert.Contains(t, out, "<h1>《等保整改服务报告》</h1>")
	assert.Contains(t, out, "<style>\n@page", "styled inline, like the incident report")
	for _, h := range documentHeadings {
		assert.Contains(t, out, "<h2>"+h+"</h2>")
	}
	for _, s := range []string{
		"<tr><th>案例编号 Case</th><td>dengbao:D1</td></tr>", "<tr><th>客户 Customer</th><td>cust-7</td></tr>",
		"<tr><th>服务商 Partner</th><td>安全伙伴 P1 (p1)</td></tr>", "<tr><th>备注 Note</th><td>—</td></tr>",
		"<td>v1</td>", "2026-05-01 10:00:00",
		`<p class="text">整改覆盖 3 台 ECS。</p>`, "<p class=\"text\">第二段\n第二行</p>",
		`<li class="text">差距报告解读与整改方案</li>`, `<li class="text">产品选型与部署指导</li>`,
		"<th>控制点 Control</th><th>整改前 Before</th><th>整改后 After</th>",
		"<tr><td>身份鉴别</td><td>弱口令</td><td>已启用双因素</td></tr>",
		"<tr><td>访问控制</td><td>6379 对公网开放</td><td>—</td></tr>", // a short row is padded
		"<h2>五、遗留问题</h2>\n<p class=\"none\">无 (none)</p>",
	} {
		assert.Contains(t, out, s)
	}
	assert.NotContains(t, out, "<script")
	assert.NotContains(t, out, "<thead><tr><th>项目</th>", "a table without rows is left out")
}

func TestRenderDocumentMarkdown(t *testing.T) {
	out, err := RenderDocumentMarkdown(sampleDocument())
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(out, "# 《等保整改服务报告》\n"))
	for _, h := range documentHeadings {
		assert.Contains(t, out, "\n## "+h+"\n")
	}
	for _, s := range []string{
		"| 案例编号 Case | dengbao:D1 |", "| 客户 Customer | cust-7 |", "| 服务商 Partner | 安全伙伴 P1 (p1) |",
		"| 备注 Note | — |", "| 文档版本 Version | v1 |", "| 生成时间 Generated | 2026-05-01 10:00:00 (Asia/Shanghai, UTC+8) |",
		"\n\n整改覆盖 3 台 ECS。\n\n第二段  \n第二行\n\n",
		"\n\n- 差距报告解读与整改方案\n- 产品选型与部署指导\n\n",
		"\n\n| 控制点 Control | 整改前 Before | 整改后 After |\n|---|---|---|\n| 身份鉴别 | 弱口令 | 已启用双因素 |\n| 访问控制 | 6379 对公网开放 | — |\n\n",
		"## 四、测评结论\n\n测评通过。\n\n- 复测 2026-04-30\n\n无 (none)\n\n## 五、遗留问题\n\n无 (none)\n\n---\n",
		"等保整改服务报告 — dengbao:D1 v1 · 时间均为北京时间",
	} {
		assert.Contains(t, out, s)
	}
}

func TestRenderDocumentEscapesHostileText(t *testing.T) {
	d := sampleDocument()
	d.Title = "<b>整改</b>\n# injected title"
	d.Meta = append(d.Meta, DocField{Label: "<i>label</i> | x", Value: hostile})
	d.Sections = append(d.Sections, DocSection{
		Heading:    "<script>h</script>\n# injected heading",
		Paragraphs: []string{hostile + "\n# injected heading\n- injected item\n1. injected list\n    indented code\n---"},
		Items:      []string{hostile, "a\u202Eevil"}, // right-to-left override
		Table: &DocTable{
			Header: []string{"<b>h</b>", "h|2"},
			Rows:   [][]string{{"i-x|<b>y</b>", "line1\nline2 | col", "extra [l](javascript:x)"}},
		},
	})

	h, err := RenderDocumentHTML(d)
	require.NoError(t, err)
	for _, bad := range []string{"<script", "<img", "<b>", "<i>", "\u202E"} {
		assert.NotContains(t, h, bad)
	}
	assert.Contains(t, h, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
	assert.Contains(t, h, "<h2>六、&lt;script&gt;h&lt;/script&gt; # injected heading</h2>")
	assert.Contains(t, h, "<h1>《&lt;b&gt;整改&lt;/b&gt; # injected title》</h1>")
	assert.Contains(t, h, "<td>i-x|&lt;b&gt;y&lt;/b&gt;</td>")

	m, err := RenderDocumentMarkdown(d)
	require.NoError(t, err)
	for _, bad := range []string{"<script", "<img", "<b>", "<i>", "\u202E"} {
		assert.NotContains(t, m, bad)
	}
	assert.NotRegexp(t, `(^|[^\\])\]\(`, m, "no link or image syntax survives")
	assert.Contains(t, m, "&lt;script&gt;alert(\"x\")&lt;/script&gt; \\| # \\[link\\](javascript:alert(1)) !\\[img\\]")
	assert.Contains(t, m, "# 《&lt;b&gt;整改&lt;/b&gt; # injected title》\n")
	assert.Contains(t, m, "\n## 六、&lt;script&gt;h&lt;/script&gt; # injected heading\n")
	assert.Contains(t, m, "\\# injected heading")
	assert.Contains(t, m, "\\- injected item")
	assert.Contains(t, m, "1\\. injected list")
	assert.Contains(t, m, "\\---")
	assert.NotContains(t, m, "\n    indented code", "indentation could open a code block")
	assert.Contains(t, m, "| &lt;i&gt;label&lt;/i&gt; \\| x | ")
	assert.Contains(t, m, "| &lt;b&gt;h&lt;/b&gt; | h\\|2 | — |\n|---|---|---|\n")
	assert.Contains(t, m, "| i-x\\|&lt;b&gt;y&lt;/b&gt; | line1<br>line2 \\| col | extra \\[l\\](javascript:x) |")
	for _, line := range strings.Split(m, "\n") {
		if strings.HasPrefix(line, "#") {
			assert.True(t, strings.HasPrefix(line, "# 《") || strings.HasPrefix(line, "## "), "only our headings: %q", line)
		}
		if strings.HasPrefix(line, "| ") && strings.Contains(line, "line1") {
			assert.Equal(t, 3, strings.Count(line, " | ")+1, "the row keeps 3 columns: %q", line)
		}
	}
}

func TestRenderDocumentDeterministic(t *testing.T) {
	d := sampleDocument()
	h1, err := RenderDocumentHTML(d)
	require.NoError(t, err)
	m1, err := RenderDocumentMarkdown(d)
	require.NoError(t, err)
	for range 5 {
		h, err := RenderDocumentHTML(d)
		require.NoError(t, err)
		m, err := RenderDocumentMarkdown(d)
		require.NoError(t, err)
		require.Equal(t, h1, h)
		require.Equal(t, m1, m)
	}
}

func TestRenderDocumentMinimal(t *testing.T) {
	d := Document{CaseID: "dengbao:E", Kind: db.KindRectificationProposal, Version: 1, Title: "《安全整改建议书》"}
	h, err := RenderDocumentHTML(d)
	require.NoError(t, err)
	assert.Contains(t, h, "<h1>《安全整改建议书》</h1>", "brackets are not doubled")
	assert.Contains(t, h, "<td>— <span class=\"none\">", "no generated time")
	assert.NotContains(t, h, "<section>")
	m, err := RenderDocumentMarkdown(d)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(m, "# 《安全整改建议书》\n"))
	assert.NotContains(t, m, "## ")
}

func TestRenderDocumentManySections(t *testing.T) {
	d := Document{CaseID: "dengbao:M", Kind: db.KindServiceReport, Version: 1, Title: "等保整改服务报告"}
	for range 12 {
		d.Sections = append(d.Sections, DocSection{Heading: "节", Items: []string{"x"}})
	}
	m, err := RenderDocumentMarkdown(d)
	require.NoError(t, err)
	for _, h := range []string{"## 一、节", "## 十、节", "## 十一、节", "## 十二、节"} {
		assert.Contains(t, m, "\n"+h+"\n")
	}
}

func TestChineseNumber(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{0, "〇"}, {1, "一"}, {9, "九"}, {10, "十"}, {11, "十一"}, {19, "十九"}, {20, "二十"}, {21, "二十一"},
		{99, "九十九"}, {100, "100"}, {-1, "-1"},
	}
	for _, tt := range tests {
		if got := chineseNumber(tt.n); got != tt.want {
			t.Errorf("chineseNumber(%d) = %q; want %q", tt.n, got, tt.want)
		}
	}
}

func TestRenderDocumentActivity(t *testing.T) {
	store := dbtest.MustOpen(t)
	a := &Activities{Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	ctx := context.Background()

	count := func(kind string) int {
		t.Helper()
		q := store.NewSelect().Model((*db.Report)(nil)).Where("case_id = ?", "dengbao:D1")
		if kind != "" {
			q = q.Where("kind = ?", kind)
		}
		n, err := q.Count(ctx)
		require.NoError(t, err)
		return int(n)
	}
	run := func(d Document) ReportRef {
		t.Helper()
		val, err := env.ExecuteActivity(a.RenderDocument, d)
		require.NoError(t, err)
		var ref ReportRef
		require.NoError(t, val.Get(&ref))
		return ref
	}

	d := sampleDocument()
	ref := run(d)
	assert.Equal(t, ReportRef{CaseID: "dengbao:D1", Version: 1}, ref)
	assert.Equal(t, 2, count(db.KindServiceReport))

	wantHTML, err := RenderDocumentHTML(d)
	require.NoError(t, err)
	wantMD, err := RenderDocumentMarkdown(d)
	require.NoError(t, err)
	h, err := store.LatestReport(ctx, "dengbao:D1", db.KindServiceReport, db.FormatHTML)
	require.NoError(t, err)
	m, err := store.LatestReport(ctx, "dengbao:D1", db.KindServiceReport, db.FormatMarkdown)
	require.NoError(t, err)
	assert.Equal(t, wantHTML, h.Content)
	assert.Equal(t, wantMD, m.Content)
	assert.Equal(t, "等保整改服务报告 — dengbao:D1 v1", h.Title)
	assert.Equal(t, h.Title, m.Title)
	assert.Equal(t, db.KindServiceReport, h.Kind)
	assert.Equal(t, 1, h.Version)
	_, err = store.LatestReport(ctx, "dengbao:D1", db.KindRectificationProposal, db.FormatHTML)
	require.ErrorIs(t, err, db.ErrNotFound, "stored under its own kind only")

	// A retry, even one whose input drifted, stores nothing new and keeps the first content.
	again := d
	again.Sections = append([]DocSection{{Heading: "changed on retry"}}, d.Sections...)
	assert.Equal(t, ref, run(again))
	assert.Equal(t, 2, count(""))
	h2, err := store.LatestReport(ctx, "dengbao:D1", db.KindServiceReport, db.FormatHTML)
	require.NoError(t, err)
	assert.Equal(t, h.Content, h2.Content)
	assert.Equal(t, h.CreatedAt, h2.CreatedAt)

	// The incident report and the proposal of the same case and version are stored beside it.
	sos := sampleReport("handling")
	sos.CaseID = "dengbao:D1"
	val, err := env.ExecuteActivity(a.RenderReport, sos)
	require.NoError(t, err)
	require.NoError(t, val.Get(&ref))
	assert.Equal(t, ReportRef{CaseID: "dengbao:D1", Version: 1}, ref)
	p := sampleDocument()
	p.Kind, p.Title, p.Key = db.KindRectificationProposal, "安全整改建议书", "dengbao:D1/rectification_proposal/1"
	assert.Equal(t, ReportRef{CaseID: "dengbao:D1", Version: 1}, run(p))
	assert.Equal(t, 6, count(""))
	for _, kind := range db.ReportKinds() {
		assert.Equal(t, 2, count(kind), "kind %s", kind)
	}
	ir, err := store.LatestReport(ctx, "dengbao:D1", db.KindIncidentReport, db.FormatMarkdown)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(ir.Content, "# 《安全事件应急响应报告》"))
	assert.Equal(t, "安全事件应急响应报告 — dengbao:D1 v1", ir.Title)
	pr, err := store.LatestReport(ctx, "dengbao:D1", db.KindRectificationProposal, db.FormatMarkdown)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(pr.Content, "# 《安全整改建议书》"))
	sr, err := store.LatestReport(ctx, "dengbao:D1", db.KindServiceReport, db.FormatMarkdown)
	require.NoError(t, err)
	assert.Equal(t, m.Content, sr.Content)

	// A new version is stored beside the first and becomes the latest.
	v2 := d
	v2.Version, v2.Key = 2, "dengbao:D1/service_report/2"
	assert.Equal(t, ReportRef{CaseID: "dengbao:D1", Version: 2}, run(v2))
	assert.Equal(t, 4, count(db.KindServiceReport))
	sr2, err := store.LatestReport(ctx, "dengbao:D1", db.KindServiceReport, db.FormatHTML)
	require.NoError(t, err)
	assert.Equal(t, 2, sr2.Version)
	assert.Equal(t, "等保整改服务报告 — dengbao:D1 v2", sr2.Title)
}

func TestRenderDocumentActivityInvalid(t *testing.T) {
	a := &Activities{Store: dbtest.MustOpen(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	valid := Document{CaseID: "dengbao:D1", Kind: db.KindServiceReport, Version: 1, Title: "等保整改服务报告"}
	tests := []struct {
		name   string
		change func(*Document)
	}{
		{"no case", func(d *Document) { d.CaseID = "" }},
		{"no kind", func(d *Document) { d.Kind = "" }},
		{"unknown kind", func(d *Document) { d.Kind = "invoice" }},
		{"no title", func(d *Document) { d.Title = "" }},
		{"blank title", func(d *Document) { d.Title = " \n" }},
		{"version 0", func(d *Document) { d.Version = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := valid
			tt.change(&d)
			_, err := env.ExecuteActivity(a.RenderDocument, d)
			require.Error(t, err)
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr), "%v", err)
			assert.Equal(t, ErrTypeInvalidReport, appErr.Type())
			assert.True(t, appErr.NonRetryable())
		})
	}
	n, err := a.Store.NewSelect().Model((*db.Report)(nil)).Count(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n)
}
