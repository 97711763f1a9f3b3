package activities

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"github.com/steward-oss/steward/sla"
	htmltemplate "html/template"
	"log/slog"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	_ "time/tzdata" // Asia/Shanghai without system tzdata (distroless images have none)
	"unicode"

	"go.temporal.io/sdk/temporal"

	"github.com/steward-oss/steward/db"
)

// ReportTitle is the report's name, as on the document.
const ReportTitle = "安全事件应急响应报告"

// ErrTypeInvalidReport is the application error type of a report input that can never be stored.
const ErrTypeInvalidReport = "InvalidReport"

//go:embed templates/*.tmpl
var templateFS embed.FS

var (
	htmlReport = htmltemplate.Must(htmltemplate.New("report.html.tmpl").
			Funcs(htmltemplate.FuncMap{"inc": inc}).
			ParseFS(templateFS, "templates/report.html.tmpl", "templates/style.html.tmpl"))
	markdownReport = texttemplate.Must(texttemplate.New("report.md.tmpl").
			Funcs(texttemplate.FuncMap{"inc": inc, "cell": mdCell, "item": mdItem, "para": mdPara}).
			ParseFS(templateFS, "templates/report.md.tmpl"))
)

// reportZone is the time zone every time in the report is shown in: the customer's (China Standard Time).
var reportZone = sla.China

// reportZoneName is how a document names reportZone.
const reportZoneName = "Asia/Shanghai, UTC+8"

// RenderReport renders the report as HTML and Markdown and stores both as version in.Version; a retry stores nothing new.
//
// Each format is written once per (case, version): when a version exists, its stored content is kept, so a
// retried activity, or a replayed workflow, never rewrites a report the customer may already have read.
func (a *Activities) RenderReport(ctx context.Context, in ReportInput) (ReportRef, error) {
	if in.CaseID == "" || in.Version < 1 {
		return ReportRef{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("report: case id %q, version %d: need a case id and a version from 1", in.CaseID, in.Version),
			ErrTypeInvalidReport, nil)
	}
	htmlDoc, err := RenderReportHTML(in)
	if err != nil {
		return ReportRef{}, err
	}
	mdDoc, err := RenderReportMarkdown(in)
	if err != nil {
		return ReportRef{}, err
	}
	err = a.storeRendered(ctx, rendered{
		Key: in.Key, CaseID: in.CaseID, Kind: db.KindIncidentReport, Version: in.Version,
		Title: StoredReportTitle(in.CaseID, in.Version), HTML: htmlDoc, Markdown: mdDoc,
	})
	if err != nil {
		return ReportRef{}, err
	}
	return ReportRef{CaseID: in.CaseID, Version: in.Version}, nil
}

// rendered is one version of a document in both formats, ready to store.
type rendered struct {
	Key, CaseID, Kind string
	Version           int
	Title             string
	HTML, Markdown    string
}

// storeRendered stores both formats of r, each unless that (case, kind, format, version) exists. A row the
// store refuses (ErrInvalid) is a non-retryable ErrTypeInvalidReport.
func (a *Activities) storeRendered(ctx context.Context, r rendered) error {
	now := time.Now().UTC()
	for _, row := range []*db.Report{
		{CaseID: r.CaseID, Kind: r.Kind, Format: db.FormatHTML, Version: r.Version, Title: r.Title, Content: r.HTML, CreatedAt: now},
		{CaseID: r.CaseID, Kind: r.Kind, Format: db.FormatMarkdown, Version: r.Version, Title: r.Title, Content: r.Markdown, CreatedAt: now},
	} {
		created, err := a.Store.PutReport(ctx, row)
		if errors.Is(err, db.ErrInvalid) {
			return temporal.NewNonRetryableApplicationError("report: "+err.Error(), ErrTypeInvalidReport, err)
		}
		if err != nil {
			return fmt.Errorf("store %s %s of %s v%d: %w", row.Format, r.Kind, r.CaseID, r.Version, err)
		}
		a.logger().InfoContext(ctx, "report stored", slog.String("case_id", r.CaseID), slog.String("kind", r.Kind),
			slog.String("format", row.Format), slog.Int("version", r.Version), slog.Bool("created", created),
			slog.String("key", r.Key))
	}
	return nil
}

// StoredReportTitle is the title a report version is stored under: "安全事件应急响应报告 — <case> v<version>".
func StoredReportTitle(caseID string, version int) string {
	return StoredDocumentTitle(ReportTitle, caseID, version)
}

// RenderReportHTML renders the report as a self-contained, printable HTML page (inline CSS, no scripts or
// external resources). Every text field is escaped by html/template.
func RenderReportHTML(in ReportInput) (string, error) {
	var b bytes.Buffer
	if err := htmlReport.Execute(&b, newReportView(in)); err != nil {
		return "", fmt.Errorf("render html report of %s: %w", in.CaseID, err)
	}
	return b.String(), nil
}

// RenderReportMarkdown renders the report as Markdown (GitHub-flavoured tables). User text is escaped so
// that it renders as text: it cannot add HTML, links, images, headings or table columns.
func RenderReportMarkdown(in ReportInput) (string, error) {
	var b bytes.Buffer
	if err := markdownReport.Execute(&b, newReportView(in)); err != nil {
		return "", fmt.Errorf("render markdown report of %s: %w", in.CaseID, err)
	}
	return b.String(), nil
}

// FormatCents formats an amount in cents with thousands separators and two decimals: 250000 → "2,500.00".
// Integer arithmetic only, so no amount is ever rounded.
func FormatCents(cents int64) string {
	neg := cents < 0
	u := uint64(cents)
	if neg {
		u = -u // two's complement: also right for math.MinInt64
	}
	whole := strconv.FormatUint(u/100, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	frac := u % 100
	b.WriteByte('.')
	b.WriteByte(byte('0' + frac/10))
	b.WriteByte(byte('0' + frac%10))
	return b.String()
}

// IncidentClassName is the Chinese name of an incident class code (GB/Z 20986-2007), or the code itself
// when it is not one of the four SOS handles.
func IncidentClassName(class string) string {
	switch class {
	case "malware":
		return "有害程序事件"
	case "network_attack":
		return "网络攻击事件"
	case "information_destruction":
		return "信息破坏事件"
	case "content_security":
		return "信息内容安全事件"
	}
	return class
}

func specName(spec string) string {
	switch spec {
	case sla.SpecHandling:
		return "事件处理"
	case sla.SpecAnalysisRemote:
		return "事件分析（远程）"
	case sla.SpecAnalysisOnsite:
		return "事件分析（现场）"
	}
	return ""
}

func clauseName(clause string) string {
	switch clause {
	case sla.ClauseResponse:
		return "响应时间"
	case sla.ClauseHandling:
		return "处理时长"
	case sla.ClauseEffect:
		return "处置效果"
	case sla.ClauseAssets:
		return "资产清单提交"
	}
	return ""
}

// heading is one section heading: "一、事件概述" and its English subtitle.
type heading struct{ Zh, En string }

type reportHeadings struct {
	Overview, Hosts, Process, Results, Cause, Recommendations, SLA heading
}

type stepView struct{ At, Step, Detail string }

type slaView struct {
	Clause, Due, Completed, BreachedText, Refund string
	Breached                                     bool
}

// reportView is what both templates render: every user string cleaned, every time and amount formatted.
type reportView struct {
	Title, Zone                                           string
	CaseID, OrderID, CustomerID, Partner, Spec, Generated string
	Version                                               int
	H                                                     reportHeadings
	Class, Type, Symptoms, Summary                        string
	Hosts                                                 []ReportHost
	Steps                                                 []stepView
	Containment, Cleaned                                  []string
	MalwareRemoved                                        bool
	MalwareRemovedText                                    string
	ShowCause, CauseUndetermined                          bool
	Cause                                                 string
	Recommendations                                       []string
	SLA                                                   []slaView
	RefundPercent, RefundAmount                           string
}

func newReportView(in ReportInput) reportView {
	currency := clean(in.Currency)
	if currency == "" {
		currency = "CNY"
	}
	v := reportView{
		Title: StoredReportTitle(clean(in.CaseID), in.Version), Zone: reportZoneName,
		CaseID: clean(in.CaseID), OrderID: clean(in.OrderID), CustomerID: clean(in.CustomerID),
		Partner: clean(in.PartnerID), Spec: clean(in.Spec), Generated: reportTime(in.GeneratedAt), Version: in.Version,
		Class: "未分类 (unclassified)", Type: clean(in.IncidentType),
		Symptoms: clean(in.Symptoms), Summary: clean(in.Summary),
		Containment: cleanAll(in.Containment), Cleaned: cleanAll(in.Cleaned),
		MalwareRemoved: in.MalwareRemoved, MalwareRemovedText: yesNo(in.MalwareRemoved),
		ShowCause:         in.Spec == sla.SpecAnalysisRemote || in.Spec == sla.SpecAnalysisOnsite,
		CauseUndetermined: in.CauseUndetermined, Cause: clean(in.Cause),
		Recommendations: cleanAll(in.Recommendations),
		RefundPercent:   strconv.Itoa(in.RefundPercent) + "%",
		RefundAmount:    FormatCents(in.RefundAmountCents) + " " + currency,
	}
	if name := clean(in.PartnerName); name != "" {
		v.Partner = name + " (" + v.Partner + ")"
	}
	if name := specName(in.Spec); name != "" {
		v.Spec = name + " (" + in.Spec + ")"
	}
	if class := clean(in.IncidentClass); class != "" {
		v.Class = class
		if name := IncidentClassName(class); name != class {
			v.Class = name + " (" + class + ")"
		}
	}
	for _, h := range in.Hosts {
		v.Hosts = append(v.Hosts, ReportHost{InstanceID: clean(h.InstanceID), IP: clean(h.IP), OS: clean(h.OS)})
	}
	for _, s := range in.Process {
		v.Steps = append(v.Steps, stepView{At: reportTime(s.At), Step: clean(s.Step), Detail: clean(s.Detail)})
	}
	for _, s := range in.SLA {
		sv := slaView{
			Clause: clean(s.Clause), Due: reportTimePtr(s.DueAt), Completed: reportTimePtr(s.CompletedAt),
			Breached: s.Breached, BreachedText: yesNo(s.Breached), Refund: strconv.Itoa(s.RefundPercent) + "%",
		}
		if name := clauseName(s.Clause); name != "" {
			sv.Clause = name + " (" + s.Clause + ")"
		}
		v.SLA = append(v.SLA, sv)
	}
	// Sections are numbered in order; the cause section exists for analysis specs only, and the numbers
	// after it close up when it is left out.
	n := 0
	next := func(zh, en string) heading {
		n++
		return heading{Zh: chineseNumber(n) + "、" + zh, En: en}
	}
	v.H.Overview = next("事件概述", "Incident overview")
	v.H.Hosts = next("排查对象", "Hosts examined")
	v.H.Process = next("处置过程", "Response process")
	v.H.Results = next("处置结果", "Results")
	if v.ShowCause {
		v.H.Cause = next("入侵原因分析", "Root-cause analysis")
	}
	v.H.Recommendations = next("加固建议", "Hardening recommendations")
	v.H.SLA = next("SLA 履约情况", "SLA performance")
	return v
}

var chineseNumerals = []string{"〇", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"}

// chineseNumber writes n in Chinese numerals as section numbers are (一 … 十, 十一, 二十, 九十九); from 100 on,
// and below 0, in digits.
func chineseNumber(n int) string {
	switch {
	case n >= 0 && n <= 10:
		return chineseNumerals[n]
	case n > 10 && n < 100:
		s := ""
		if n/10 > 1 {
			s = chineseNumerals[n/10]
		}
		s += "十"
		if n%10 > 0 {
			s += chineseNumerals[n%10]
		}
		return s
	}
	return strconv.Itoa(n)
}

func yesNo(b bool) string {
	if b {
		return "是"
	}
	return "否"
}

const reportTimeLayout = "2006-01-02 15:04:05"

func reportTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(reportZone).Format(reportTimeLayout)
}

func reportTimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return reportTime(*t)
}

func inc(i int) int { return i + 1 }

// clean makes user text safe to lay out: valid UTF-8, "\n" line ends, no control characters (tabs become
// spaces) and no bidirectional overrides, which could make a report read differently from what it says.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\r', r == '\t', r == '\v', r == '\f':
			return ' '
		case unicode.IsControl(r), r >= '\u202A' && r <= '\u202E', r >= '\u2066' && r <= '\u2069',
			r == '\u200E', r == '\u200F', r == '\u061C':
			return -1
		}
		return r
	}, s))
}

func cleanAll(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if s = clean(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// mdInline escapes one line of user text for Markdown: characters that start HTML or entities become
// entities, and Markdown punctuation (emphasis, code, links and images, table pipes, strike-through) is
// backslash-escaped. The line's start is left to mdLine.
func mdInline(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\\', '`', '*', '_', '[', ']', '|', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdLine escapes one line of a paragraph or list item, including what is significant only at a line's
// start: headings (#), list markers (-, +, "1." and "1)"), setext underlines (=) and indentation (a code
// block).
func mdLine(line string) string {
	s := mdInline(strings.TrimSpace(line))
	if s == "" {
		return s
	}
	switch s[0] {
	case '#', '-', '+', '=':
		return `\` + s
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i < len(s) && (s[i] == '.' || s[i] == ')') && (i+1 == len(s) || s[i+1] == ' ') {
		return s[:i] + `\` + s[i:]
	}
	return s
}

// mdLines escapes each line of s with escape; blank lines are kept (one in a row) only when keepBlank is set.
func mdLines(s string, escape func(string) string, keepBlank bool) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		l := escape(line)
		if l == "" && (!keepBlank || len(out) == 0 || out[len(out)-1] == "") {
			continue
		}
		out = append(out, l)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// mdCell is user text for one table cell: one source line, line breaks as <br>, "—" when empty. A cell
// holds no blocks, so only inline syntax (and the column separator |) needs escaping.
func mdCell(s string) string {
	lines := mdLines(s, func(l string) string { return mdInline(strings.TrimSpace(l)) }, false)
	if len(lines) == 0 {
		return "—"
	}
	return strings.Join(lines, "<br>")
}

// mdItem is user text for one list item: like a cell it stays on one source line, but a list item holds
// blocks, so each line's start is escaped too.
func mdItem(s string) string {
	lines := mdLines(s, mdLine, false)
	if len(lines) == 0 {
		return "—"
	}
	return strings.Join(lines, "<br>")
}

// mdPara is user text as paragraphs: its line breaks kept as hard breaks, blank lines between paragraphs.
func mdPara(s string) string {
	lines := mdLines(s, mdLine, true)
	if len(lines) == 0 {
		return "—"
	}
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			switch {
			case l == "":
				continue
			case lines[i-1] == "":
				b.WriteString("\n\n")
			default:
				b.WriteString("  \n")
			}
		}
		b.WriteString(l)
	}
	return b.String()
}
