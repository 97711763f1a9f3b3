package activities

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/steward-oss/steward/db"
)

// Document kinds a workflow renders, as the reports table stores and the API serves them (db's kinds).
const (
	KindIncidentReport        = db.KindIncidentReport
	KindRectificationProposal = db.KindRectificationProposal
	KindServiceReport         = db.KindServiceReport
)

// Document is a rendered deliverable described as data: the 等保整改 《安全整改建议书》 and 《等保整改服务报告》,
// and any document after them that is a title, a few label/value pairs and numbered sections. The SOS
// 《安全事件应急响应报告》 has its own layout (ReportInput, RenderReport).
//
// All text is taken as plain text: both renderers escape it, so it can add no markup.
type Document struct {
	// Key names the write in logs; the stored document is idempotent by (CaseID, Kind, Version).
	Key    string `json:"key"`
	CaseID string `json:"case_id"`
	// Kind is a db report kind, e.g. db.KindRectificationProposal.
	Kind    string `json:"kind"`
	Version int    `json:"version"`
	// Title is the document's name without 《》, e.g. "安全整改建议书".
	Title       string    `json:"title"`
	GeneratedAt time.Time `json:"generated_at"`
	// Meta is the label/value pairs under the title (case, order, customer, partner, …). The version and
	// the time generated follow them without being listed here.
	Meta []DocField `json:"meta,omitempty"`
	// Sections are numbered 一、二、… in order.
	Sections []DocSection `json:"sections,omitempty"`
}

// DocField is one label/value pair of a Document's Meta.
type DocField struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// DocSection is one numbered section of a Document: its paragraphs, then its bulleted items, then its table.
// A section with none of them reads "无 (none)".
type DocSection struct {
	Heading    string    `json:"heading"`
	Paragraphs []string  `json:"paragraphs,omitempty"`
	Items      []string  `json:"items,omitempty"`
	Table      *DocTable `json:"table,omitempty"`
}

// DocTable is a table in a DocSection. Rows shorter than the widest row or the header are padded with
// empty cells; a table without rows reads "无 (none)".
type DocTable struct {
	Header []string   `json:"header,omitempty"`
	Rows   [][]string `json:"rows,omitempty"`
}

var (
	htmlDocument = htmltemplate.Must(htmltemplate.New("document.html.tmpl").
			ParseFS(templateFS, "templates/document.html.tmpl", "templates/style.html.tmpl"))
	markdownDocument = texttemplate.Must(texttemplate.New("document.md.tmpl").
				Funcs(texttemplate.FuncMap{"inline": mdInline, "cell": mdCell, "item": mdItem, "para": mdPara, "row": mdRow, "rule": mdRule}).
				ParseFS(templateFS, "templates/document.md.tmpl"))
)

// RenderDocument renders d as HTML and Markdown and stores both as version d.Version of d.Kind; a retry
// stores nothing new.
//
// As with RenderReport, each format is written once per (case, kind, version): an existing version keeps
// its stored content, so a retry or a replay never rewrites a document the customer may already have read.
func (a *Activities) RenderDocument(ctx context.Context, d Document) (ReportRef, error) {
	if d.CaseID == "" || d.Kind == "" || strings.TrimSpace(d.Title) == "" || d.Version < 1 {
		return ReportRef{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("document: case id %q, kind %q, title %q, version %d: need a case id, a kind, a title and a version from 1",
				d.CaseID, d.Kind, d.Title, d.Version),
			ErrTypeInvalidReport, nil)
	}
	if !slices.Contains(db.ReportKinds(), d.Kind) {
		return ReportRef{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("document: kind %q: not one of %s", d.Kind, strings.Join(db.ReportKinds(), ", ")),
			ErrTypeInvalidReport, nil)
	}
	htmlDoc, err := RenderDocumentHTML(d)
	if err != nil {
		return ReportRef{}, err
	}
	mdDoc, err := RenderDocumentMarkdown(d)
	if err != nil {
		return ReportRef{}, err
	}
	err = a.storeRendered(ctx, rendered{
		Key: d.Key, CaseID: d.CaseID, Kind: d.Kind, Version: d.Version,
		Title: StoredDocumentTitle(d.Title, d.CaseID, d.Version), HTML: htmlDoc, Markdown: mdDoc,
	})
	if err != nil {
		return ReportRef{}, err
	}
	return ReportRef{CaseID: d.CaseID, Version: d.Version}, nil
}

// StoredDocumentTitle is the title a document version is stored under: "<title> — <case> v<version>".
func StoredDocumentTitle(title, caseID string, version int) string {
	return title + " — " + caseID + " v" + strconv.Itoa(version)
}

// RenderDocumentHTML renders d as a self-contained, printable HTML page (inline CSS, no scripts or external
// resources), styled like the incident report. Every text field is escaped by html/template.
func RenderDocumentHTML(d Document) (string, error) {
	var b bytes.Buffer
	if err := htmlDocument.Execute(&b, newDocumentView(d)); err != nil {
		return "", fmt.Errorf("render html %s of %s: %w", d.Kind, d.CaseID, err)
	}
	return b.String(), nil
}

// RenderDocumentMarkdown renders d as Markdown (GitHub-flavoured tables), escaped like the incident report:
// text renders as text and cannot add HTML, links, images, headings, list items or table columns.
func RenderDocumentMarkdown(d Document) (string, error) {
	var b bytes.Buffer
	if err := markdownDocument.Execute(&b, newDocumentView(d)); err != nil {
		return "", fmt.Errorf("render markdown %s of %s: %w", d.Kind, d.CaseID, err)
	}
	return b.String(), nil
}

// documentView is what both document templates render: every string cleaned, headings numbered, tables
// rectangular.
type documentView struct {
	Title, StoredTitle, Zone, Generated string
	Version                             int
	Meta                                []DocField
	Sections                            []sectionView
}

type sectionView struct {
	Heading           string
	Paragraphs, Items []string
	Table             *tableView
	Empty             bool
}

type tableView struct {
	HasHeader bool
	Header    []string
	Rows      [][]string
}

func newDocumentView(d Document) documentView {
	title := oneLine(d.Title)
	title = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(title, "《"), "》"))
	v := documentView{
		Title: title, StoredTitle: StoredDocumentTitle(title, oneLine(d.CaseID), d.Version),
		Zone: reportZoneName, Generated: reportTime(d.GeneratedAt), Version: d.Version,
	}
	for _, f := range d.Meta {
		label, value := oneLine(f.Label), clean(f.Value)
		if label == "" && value == "" {
			continue
		}
		v.Meta = append(v.Meta, DocField{Label: label, Value: value})
	}
	for i, s := range d.Sections {
		heading := oneLine(s.Heading)
		if heading == "" {
			heading = "—"
		}
		sv := sectionView{
			Heading:    chineseNumber(i+1) + "、" + heading,
			Paragraphs: cleanAll(s.Paragraphs),
			Items:      cleanAll(s.Items),
			Table:      newTableView(s.Table),
		}
		sv.Empty = len(sv.Paragraphs) == 0 && len(sv.Items) == 0 && sv.Table == nil
		v.Sections = append(v.Sections, sv)
	}
	return v
}

// newTableView cleans t and pads it to a rectangle as wide as its header or widest row.
func newTableView(t *DocTable) *tableView {
	if t == nil {
		return nil
	}
	cols := len(t.Header)
	for _, r := range t.Rows {
		cols = max(cols, len(r))
	}
	if cols == 0 {
		return &tableView{}
	}
	pad := func(cells []string) []string {
		out := make([]string, cols)
		for i, c := range cells {
			out[i] = clean(c)
		}
		return out
	}
	tv := &tableView{HasHeader: len(t.Header) > 0, Header: pad(t.Header)}
	for _, r := range t.Rows {
		tv.Rows = append(tv.Rows, pad(r))
	}
	return tv
}

// oneLine is cleaned text for a place that holds one line (a title, a heading, a label): its lines and
// runs of spaces joined by single spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(clean(s)), " ")
}

// mdRow is one Markdown table row of user text: each cell escaped by mdCell, so it keeps its columns.
func mdRow(cells []string) string {
	var b strings.Builder
	b.WriteString("|")
	for _, c := range cells {
		b.WriteString(" ")
		b.WriteString(mdCell(c))
		b.WriteString(" |")
	}
	return b.String()
}

// mdRule is the delimiter row under a Markdown table header of n columns.
func mdRule(n int) string {
	return "|" + strings.Repeat("---|", n)
}
