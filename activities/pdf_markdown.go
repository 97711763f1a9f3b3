package activities

import (
	"strings"
)

// A PDF is made from a document's stored Markdown, so it says exactly what that stored version says,
// for every version ever stored. That Markdown is steward's own (templates/*.md.tmpl): headings, tables,
// lists, paragraphs with hard breaks, bold labels and a closing rule, with all user text escaped by
// mdInline/mdLine. This file reads back that subset, no more; anything else reads as a paragraph.

// mdBlockKind is the kind of one block of a stored document.
type mdBlockKind int

const (
	blockTitle    mdBlockKind = iota // "# 《…》"
	blockHeading                     // "## 一、…"
	blockPara                        // lines of text; each line break is kept
	blockBullet                      // "- item"
	blockNumbered                    // "1. item"
	blockTable                       // "| a | b |" rows, the first a header when a delimiter row follows it
	blockRule                        // "---"
)

// mdBlock is one block; text and cells are still inline Markdown (parseInline reads them).
type mdBlock struct {
	kind   mdBlockKind
	text   string     // title, heading, paragraph (lines joined by "\n") or list item
	label  string     // a numbered item's number, "1."
	header []string   // a table's header cells, nil without one
	rows   [][]string // a table's body rows
}

// parseMarkdown splits a stored document into blocks.
func parseMarkdown(md string) []mdBlock {
	lines := strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n")
	var (
		out  []mdBlock
		para []string
	)
	flush := func() {
		if len(para) > 0 {
			out = append(out, mdBlock{kind: blockPara, text: strings.Join(para, "\n")})
			para = nil
		}
	}
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " \t")
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(line, "# "):
			flush()
			out = append(out, mdBlock{kind: blockTitle, text: strings.TrimSpace(line[2:])})
		case strings.HasPrefix(line, "## "), strings.HasPrefix(line, "### "):
			flush()
			out = append(out, mdBlock{kind: blockHeading, text: strings.TrimSpace(strings.TrimLeft(line, "#"))})
		case isRule(line):
			flush()
			out = append(out, mdBlock{kind: blockRule})
		case strings.HasPrefix(line, "|"):
			flush()
			t := mdBlock{kind: blockTable}
			if i+1 < len(lines) && isDelimiterRow(strings.TrimSpace(lines[i+1])) {
				t.header = splitRow(line)
				i++
			} else {
				t.rows = append(t.rows, splitRow(line))
			}
			for i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "|") {
				i++
				t.rows = append(t.rows, splitRow(strings.TrimSpace(lines[i])))
			}
			out = append(out, t)
		case strings.HasPrefix(line, "- "):
			flush()
			out = append(out, mdBlock{kind: blockBullet, text: strings.TrimSpace(line[2:])})
		case numberedItem(line) > 0:
			flush()
			n := numberedItem(line)
			out = append(out, mdBlock{kind: blockNumbered, label: line[:n], text: strings.TrimSpace(line[n:])})
		default:
			para = append(para, strings.TrimSpace(line))
		}
	}
	flush()
	return out
}

// isRule reports whether line is a thematic break: three or more dashes and nothing else.
func isRule(line string) bool {
	return len(line) >= 3 && strings.Trim(line, "-") == ""
}

// numberedItem is the length of an ordered list marker at the start of line ("12." of "12. text"), or 0.
func numberedItem(line string) int {
	i := 0
	for i < len(line) && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	if i == 0 || i > 9 || i+1 >= len(line) || line[i] != '.' || line[i+1] != ' ' {
		return 0
	}
	return i + 1
}

// isDelimiterRow reports whether line is a table's delimiter row, "|---|:---:|".
func isDelimiterRow(line string) bool {
	if !strings.HasPrefix(line, "|") {
		return false
	}
	cells := splitRow(line)
	for _, c := range cells {
		if c = strings.Trim(c, ":"); c == "" || strings.Trim(c, "-") != "" {
			return false
		}
	}
	return len(cells) > 0
}

// splitRow splits a table row into its cells at the pipes that are not escaped, each trimmed and still
// inline Markdown.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	var (
		cells []string
		cur   strings.Builder
	)
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\' && i+1 < len(line):
			cur.WriteByte(c)
			cur.WriteByte(line[i+1])
			i++
		case c == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		cells = append(cells, rest) // a row without its closing pipe
	}
	return cells
}

// mdSpan is a run of text in one weight.
type mdSpan struct {
	text string
	bold bool
}

// mdEntities are the character references mdInline writes.
var mdEntities = map[string]string{"&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": `"`, "&#39;": "'"}

// parseInline reads inline Markdown as the templates write it: backslash escapes, the entities above,
// ** for bold and <br> for a line break. It returns the text line by line, each a list of spans.
func parseInline(s string) [][]mdSpan {
	var (
		lines [][]mdSpan
		line  []mdSpan
		cur   strings.Builder
		bold  bool
	)
	emit := func() {
		if cur.Len() > 0 {
			line = append(line, mdSpan{text: cur.String(), bold: bold})
			cur.Reset()
		}
	}
	breakLine := func() {
		emit()
		lines = append(lines, line)
		line = nil
	}
	for i := 0; i < len(s); {
		rest := s[i:]
		switch {
		case rest[0] == '\\' && len(rest) > 1 && isASCIIPunct(rest[1]):
			cur.WriteByte(rest[1])
			i += 2
		case strings.HasPrefix(rest, "**"):
			emit()
			bold = !bold
			i += 2
		case strings.HasPrefix(rest, "<br>"):
			breakLine()
			i += 4
		case rest[0] == '\n':
			breakLine()
			i++
		case rest[0] == '&':
			n := strings.IndexByte(rest, ';')
			if n > 0 && n < 6 {
				if r, ok := mdEntities[rest[:n+1]]; ok {
					cur.WriteString(r)
					i += n + 1
					continue
				}
			}
			cur.WriteByte('&')
			i++
		default:
			cur.WriteByte(rest[0])
			i++
		}
	}
	breakLine()
	return lines
}

func isASCIIPunct(c byte) bool {
	return c >= '!' && c <= '/' || c >= ':' && c <= '@' || c >= '[' && c <= '`' || c >= '{' && c <= '~'
}

// plainInline is s without its Markdown: the text of all its lines, joined by "\n".
func plainInline(s string) string {
	var b strings.Builder
	for i, line := range parseInline(s) {
		if i > 0 {
			b.WriteByte('\n')
		}
		for _, sp := range line {
			b.WriteString(sp.text)
		}
	}
	return b.String()
}
