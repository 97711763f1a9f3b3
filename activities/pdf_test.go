package activities

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
)

// testPDF returns a PDF renderer on the default fonts (or STEWARD_PDF_FONT, STEWARD_PDF_LATIN_FONT). Without
// them the test is skipped, except in CI, which installs them (.ci/run).
func testPDF(t *testing.T) *PDF {
	t.Helper()
	p, err := NewPDF(os.Getenv(EnvPDFFont), os.Getenv(EnvPDFLatinFont))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run the PDF tests: %v", err)
		}
		t.Skipf("the PDF tests need their fonts (apt-get install fonts-droid-fallback fonts-dejavu-core): %v", err)
	}
	return p
}

// needTool returns the path of a poppler-utils command, skipping the test without it (failing in CI).
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run the PDF tests, but %s is missing (apt-get install poppler-utils): %v", name, err)
		}
		t.Skipf("the PDF tests need %s (apt-get install poppler-utils): %v", name, err)
	}
	return path
}

// pdfText is pdftotext's reading of pages first..last of a PDF (0, 0: all pages).
func pdfText(t *testing.T, pdf []byte, first, last int) string {
	t.Helper()
	tool := needTool(t, "pdftotext")
	in := filepath.Join(t.TempDir(), "doc.pdf")
	require.NoError(t, os.WriteFile(in, pdf, 0o600))
	args := []string{"-layout", "-enc", "UTF-8"}
	if first > 0 {
		args = append(args, "-f", strconv.Itoa(first), "-l", strconv.Itoa(last))
	}
	out, err := exec.Command(tool, append(args, in, "-")...).CombinedOutput()
	require.NoError(t, err, "pdftotext: %s", out)
	return string(out)
}

// squeeze drops all white space, so that text compares whatever lines and columns pdftotext made.
func squeeze(s string) string { return strings.Join(strings.Fields(s), "") }

func storedMarkdownReport(t *testing.T, in ReportInput) *db.Report {
	t.Helper()
	md, err := RenderReportMarkdown(in)
	require.NoError(t, err)
	return &db.Report{CaseID: in.CaseID, Kind: db.KindIncidentReport, Format: db.FormatMarkdown, Version: in.Version,
		Title: StoredReportTitle(in.CaseID, in.Version), Content: md, CreatedAt: in.GeneratedAt}
}

// TestReportPDF renders the SOS report, Chinese, English and figures together, as PDF; reads its text back
// with pdftotext; converts page 1 to PNG with pdftoppm and checks that it is not blank, with ink where the
// title and the first table are. STEWARD_PDF_EXAMPLE=path saves that page (docs/report-example.png).
func TestReportPDF(t *testing.T) {
	p := testPDF(t)
	in := sampleReport("analysis_remote")
	in.Summary = "矿机已清除，24 小时内未复发。攻击者通过未设密码的 Redis（6379/tcp）写入 crontab，随后下载 kdevtmpfsi 挖矿程序；" +
		"已封禁出站 3333/tcp，并删除全部持久化项。The miner is gone; no recurrence within 24 h."
	r := storedMarkdownReport(t, in)
	out, err := p.Report(r)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(out, []byte("%PDF-")), "a PDF")

	again, err := p.Report(r)
	require.NoError(t, err)
	assert.Equal(t, out, again, "the same stored version gives the same bytes (a retried e-mail attaches the same file)")

	text := pdfText(t, out, 0, 0)
	flat := squeeze(text)
	for _, want := range []string{
		"《安全事件应急响应报告》", "Security Incident Response Report", // title and subtitle
		"案例编号Case", "sos:O1", "安全伙伴P1(p1)", "事件分析（远程）(analysis_remote)",
		"一、事件概述(Incidentoverview)", "五、入侵原因分析(Root-causeanalysis)", "七、SLA履约情况(SLAperformance)",
		"有害程序事件(malware)", "CPU100%,unknownprocesskdevtmpfsi",
		"i-bp1aaa", "10.0.0.1", "Ubuntu22.04", "2026-03-0209:42:00", "2026-03-0603:30:00",
		"矿机已清除，24小时内未复发。", "Redis（6379/tcp）写入crontab", "norecurrencewithin24h.",
		"BindRedisto127.0.0.1andsetrequirepass",
		"处理时长(handling)", "50%·2,500.00CNY",
		"第1页/共2页", "第2页/共2页",
	} {
		assert.Contains(t, flat, squeeze(want), "pdftotext reads %q", want)
	}
	assert.NotContains(t, text, "\uFFFD", "every character maps back to its text")

	// Both fonts are embedded (subsets), so the page reads the same on a machine without them.
	if tool, err := exec.LookPath("pdffonts"); err == nil {
		path := filepath.Join(t.TempDir(), "report.pdf")
		require.NoError(t, os.WriteFile(path, out, 0o600))
		fonts, err := exec.Command(tool, path).CombinedOutput()
		require.NoError(t, err, "%s", fonts)
		embedded := regexp.MustCompile(`(?m)CID TrueType\s+Identity-H\s+yes\s+`).FindAllString(string(fonts), -1)
		assert.Len(t, embedded, 2, "both fonts embedded:\n%s", fonts)
	}

	img := firstPagePNG(t, out)
	b := img.Bounds()
	assert.Equal(t, 827, b.Dx(), "A4 at 100 dpi")
	ink := func(x0, y0, x1, y1 float64) float64 { // the share of non-white pixels in a box, in page fractions
		n, dark := 0, 0
		for y := b.Min.Y + int(y0*float64(b.Dy())); y < b.Min.Y+int(y1*float64(b.Dy())); y++ {
			for x := b.Min.X + int(x0*float64(b.Dx())); x < b.Min.X+int(x1*float64(b.Dx())); x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				n++
				if r < 0xC000 || g < 0xC000 || bl < 0xC000 {
					dark++
				}
			}
		}
		return float64(dark) / float64(n)
	}
	assert.Greater(t, ink(0, 0, 1, 1), 0.02, "page 1 is not blank")
	assert.Greater(t, ink(0.3, 0.06, 0.7, 0.11), 0.05, "the title is set at the top")
	assert.Greater(t, ink(0.1, 0.14, 0.9, 0.35), 0.02, "the case table follows it")
	assert.Less(t, ink(0, 0, 1, 0.04), 0.001, "the top margin is empty")
}

// firstPagePNG converts a PDF's first page to PNG at 100 dpi with pdftoppm and decodes it; with
// STEWARD_PDF_EXAMPLE set, the PNG is saved there.
func firstPagePNG(t *testing.T, pdf []byte) image.Image {
	t.Helper()
	tool := needTool(t, "pdftoppm")
	dir := t.TempDir()
	in := filepath.Join(dir, "doc.pdf")
	require.NoError(t, os.WriteFile(in, pdf, 0o600))
	out, err := exec.Command(tool, "-png", "-r", "100", "-f", "1", "-l", "1", "-singlefile", in, filepath.Join(dir, "page")).CombinedOutput()
	require.NoError(t, err, "pdftoppm: %s", out)
	data, err := os.ReadFile(filepath.Join(dir, "page.png"))
	require.NoError(t, err)
	if path := os.Getenv("STEWARD_PDF_EXAMPLE"); path != "" {
		require.NoError(t, os.WriteFile(path, data, 0o644))
		t.Logf("page 1 saved to %s", path)
	}
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	return img
}

// TestDocumentPDF renders a 等保 service report (a Document) as PDF: meta table, numbered sections,
// paragraphs with their line breaks, items, a padded table and the empty section's 无 (none).
func TestDocumentPDF(t *testing.T) {
	p := testPDF(t)
	d := sampleDocument()
	md, err := RenderDocumentMarkdown(d)
	require.NoError(t, err)
	out, err := p.Report(&db.Report{CaseID: d.CaseID, Kind: d.Kind, Format: db.FormatMarkdown, Version: 1,
		Title: StoredDocumentTitle(d.Title, d.CaseID, 1), Content: md, CreatedAt: d.GeneratedAt})
	require.NoError(t, err)
	text := pdfText(t, out, 0, 0)
	flat := squeeze(text)
	for _, want := range append(documentHeadings, "《等保整改服务报告》", "客户Customer", "cust-7", "整改覆盖3台ECS。",
		"差距报告解读与整改方案", "控制点Control", "已启用双因素", "6379对公网开放", "文档版本Versionv1",
		"2026-05-0110:00:00(Asia/Shanghai,UTC+8)", "无(none)") {
		assert.Contains(t, flat, squeeze(want), "pdftotext reads %q", want)
	}
	assert.Regexp(t, `第二段\s*\n\s*第二行`, text, "a line break in a paragraph is kept")
}

// TestPDFLongTable sets a table longer than a page: it goes on over the next pages with its header
// repeated, and no row is lost.
func TestPDFLongTable(t *testing.T) {
	p := testPDF(t)
	d := Document{CaseID: "butler:B1", Kind: db.KindServiceReport, Version: 3, Title: "安全管家服务报告",
		GeneratedAt: time.Date(2026, 6, 1, 1, 0, 0, 0, time.UTC)}
	table := &DocTable{Header: []string{"编号 ID", "类型 Kind", "状态 Status", "结果 Outcome"}}
	for i := 1; i <= 90; i++ {
		table.Rows = append(table.Rows, []string{"r" + strconv.Itoa(i), "incident", "closed", "已处置 handled " + strconv.Itoa(i*7)})
	}
	table.Rows[40][3] = strings.Repeat("一个很长的结果说明，没有空格可以断行；", 30) // a cell of many lines
	d.Sections = []DocSection{{Heading: "服务请求 Requests", Table: table}}
	md, err := RenderDocumentMarkdown(d)
	require.NoError(t, err)
	out, err := p.Markdown(StoredDocumentTitle(d.Title, d.CaseID, 3), md, d.GeneratedAt)
	require.NoError(t, err)
	all := squeeze(pdfText(t, out, 0, 0))
	for _, want := range []string{"r1", "r41", "r90", "已处置handled630"} {
		assert.Contains(t, all, want)
	}
	assert.Equal(t, 30, strings.Count(all, "一个很长的结果说明，没有空格可以断行；"), "the long cell in full")
	page2 := squeeze(pdfText(t, out, 2, 2))
	for _, word := range []string{"编号", "ID", "类型", "Kind", "状态", "Status", "结果", "Outcome"} {
		i := strings.Index(page2, word)
		assert.True(t, i >= 0 && i < strings.Index(page2, "incident"), "the header (%s) is repeated above the rows of page 2", word)
	}
	pages := regexp.MustCompile(`共(\d+)页`).FindStringSubmatch(all)
	require.NotNil(t, pages)
	n, _ := strconv.Atoi(pages[1])
	assert.GreaterOrEqual(t, n, 3)
}

// TestPDFHostileText: user text that looks like Markdown or HTML is set as the text it is.
func TestPDFHostileText(t *testing.T) {
	p := testPDF(t)
	in := sampleReport("handling")
	in.Summary = hostile + "\n**not bold** \\ back\\slash &amp; <br> 1. not a list"
	in.Hosts = []ReportHost{{InstanceID: "i-|pipe|", IP: "10.0.0.9", OS: "**Win** <br> 2019"}}
	out, err := p.Report(storedMarkdownReport(t, in))
	require.NoError(t, err)
	flat := squeeze(pdfText(t, out, 0, 0))
	for _, want := range []string{hostile, "**notbold**\\back\\slash&amp;<br>1.notalist", "i-|pipe|", "**Win**<br>2019"} {
		assert.Contains(t, flat, squeeze(want))
	}
}

// TestInlineRoundTrip: what the templates escape, the PDF reads back as the original text.
func TestInlineRoundTrip(t *testing.T) {
	for _, s := range []string{hostile, `a\b`, "**x**", "<br>", "&amp; &lt;", "# h", "- item", "1. one", "100%", "中文｜全角"} {
		assert.Equal(t, s, plainInline(mdInline(s)), "inline %q", s)
		assert.Equal(t, s, plainInline(mdCell(s)), "cell %q", s)
		assert.Equal(t, s, plainInline(mdItem(s)), "item %q", s)
	}
	assert.Equal(t, "one\ntwo", plainInline(mdCell("one\ntwo")), "a cell's line breaks")
	var cells []string
	for _, c := range splitRow(mdRow([]string{"a|b", "", `c\`})) {
		cells = append(cells, plainInline(c))
	}
	assert.Equal(t, []string{"a|b", "—", `c\`}, cells, "cells split at unescaped pipes only")
	blocks := parseMarkdown("# T\n\nsub\n\n## H\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- x\n2. y\n\n---\n\nfoot\n")
	var kinds []mdBlockKind
	for _, b := range blocks {
		kinds = append(kinds, b.kind)
	}
	assert.Equal(t, []mdBlockKind{blockTitle, blockPara, blockHeading, blockTable, blockBullet, blockNumbered, blockRule, blockPara}, kinds)
	assert.Equal(t, []string{"a", "b"}, blocks[3].header)
	assert.Equal(t, [][]string{{"1", "2"}}, blocks[3].rows)
}

// TestPDFLineBreaks: Chinese breaks between characters but never before closing punctuation nor after
// opening punctuation (禁则); a Latin word stays whole when it fits on a line.
func TestPDFLineBreaks(t *testing.T) {
	p := testPDF(t)
	f, _, err := p.layout("t", nil, time.Unix(0, 0), 1)
	require.NoError(t, err)
	d := &pdfDoc{p: p, f: f, widths: map[pdfRune]float64{}}
	text := strings.Repeat("处置过程中发现（攻击者）通过《未设密码的 Redis》写入 crontab，随后下载挖矿程序；已封禁出站 3333/tcp。", 6)
	for _, width := range []float64{20, 33, 47, 61, 90} {
		lines := d.wrap(d.units([]mdSpan{{text: text}}, pdfBodySize, false), width, pdfBodySize)
		var got strings.Builder
		for i, line := range lines {
			var s strings.Builder
			for _, u := range line {
				for _, r := range u.runs {
					s.WriteString(r.text)
				}
			}
			l := s.String()
			got.WriteString(l)
			first, _ := utf8.DecodeRuneInString(l)
			last, _ := utf8.DecodeLastRuneInString(l)
			assert.NotContains(t, noLineStart, string(first), "width %v line %d starts with %q: %q", width, i, first, l)
			assert.NotContains(t, noLineEnd, string(last), "width %v line %d ends with %q: %q", width, i, last, l)
			assert.LessOrEqual(t, lineWidth(line), width+1e-6, "width %v line %d", width, i)
			for _, word := range []string{"Redis", "crontab", "3333/tcp"} {
				if strings.Contains(text, word) && strings.HasSuffix(l, word[:2]) && !strings.HasSuffix(l, word) {
					t.Errorf("width %v line %d splits %q: %q", width, i, word, l)
				}
			}
		}
		assert.Equal(t, strings.ReplaceAll(text, " ", ""), strings.ReplaceAll(got.String(), " ", ""), "width %v: no character lost", width)
	}
}

// TestNewPDFErrors: a missing or unusable font is a clear error naming the file and how to fix it.
func TestNewPDFErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		return p
	}
	cff := write("cff.otf", append([]byte("OTTO"), make([]byte, 64)...))
	ttc := write("fonts.ttc", append([]byte("ttcf"), make([]byte, 64)...))
	junk := write("junk.ttf", []byte("not a font at all"))
	tests := []struct {
		name        string
		cjk, latin  string
		want        []string
		needsLatin  bool
		needsNotoCJ bool
	}{
		{name: "missing", cjk: filepath.Join(dir, "nope.ttf"), want: []string{"Chinese font", "nope.ttf", "is missing", EnvPDFFont, "fonts-droid-fallback"}},
		{name: "CFF outlines", cjk: cff, want: []string{"CFF outlines", EnvPDFFont}},
		{name: "collection", cjk: ttc, want: []string{"font collection (.ttc)"}},
		{name: "not a font", cjk: junk, want: []string{"not a TrueType font"}},
		{name: "Noto CJK as Debian ships it", cjk: "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", want: []string{"font collection"}, needsNotoCJ: true},
		{name: "a Latin font for Chinese", cjk: DefaultPDFLatinFont, want: []string{"has no glyph for '报'"}, needsLatin: true},
		{name: "missing Latin font", cjk: DefaultPDFFont, latin: filepath.Join(dir, "none.ttf"),
			want: []string{"Latin font", "none.ttf", EnvPDFLatinFont, "fonts-dejavu-core"}, needsLatin: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, need := range []struct {
				on   bool
				path string
			}{{tt.needsLatin, DefaultPDFLatinFont}, {tt.needsLatin && tt.latin != "", DefaultPDFFont}, {tt.needsNotoCJ, tt.cjk}} {
				if _, err := os.Stat(need.path); need.on && err != nil {
					t.Skipf("needs %s", need.path)
				}
			}
			_, err := NewPDF(tt.cjk, tt.latin)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrPDFUnavailable), "%v wraps ErrPDFUnavailable", err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestPDFFilename(t *testing.T) {
	r := &db.Report{CaseID: "sos:ORD-1", Kind: db.KindIncidentReport, Version: 2, Title: StoredReportTitle("sos:ORD-1", 2)}
	assert.Equal(t, "安全事件应急响应报告 — sos_ORD-1 v2.pdf", PDFFilename(r))
	assert.Equal(t, "incident_report-sos_ORD-1-v2.pdf", PDFASCIIFilename(r))
	r.Title = "a/b\\c\r\n"
	assert.Equal(t, "a_b_c.pdf", PDFFilename(r))
}
