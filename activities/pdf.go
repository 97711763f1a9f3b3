package activities

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-pdf/fpdf"

	"github.com/steward-oss/steward/db"
)

// MIMEPDF is the media type of a rendered PDF.
const MIMEPDF = "application/pdf"

// PDF renders steward's stored documents as A4 PDF, set in two embedded TrueType fonts: Chinese in one,
// Latin letters, digits and Western punctuation in the other (a CJK font such as Droid Sans Fallback has
// no Latin glyphs). It is safe for concurrent use; build one per process with NewPDF.
type PDF struct {
	cjk, latin *pdfFont
}

// NewPDF reads the two fonts: cjkPath for Chinese, latinPath for Latin text; an empty path means the
// default (DefaultPDFFont, DefaultPDFLatinFont). A missing or unusable font is an error wrapping
// ErrPDFUnavailable that names the file and how to fix it.
func NewPDF(cjkPath, latinPath string) (*PDF, error) {
	if cjkPath == "" {
		cjkPath = DefaultPDFFont
	}
	if latinPath == "" {
		latinPath = DefaultPDFLatinFont
	}
	cjk, err := loadPDFFont(cjkPath, "Chinese", EnvPDFFont, "fonts-droid-fallback", '报')
	if err != nil {
		return nil, err
	}
	latin, err := loadPDFFont(latinPath, "Latin", EnvPDFLatinFont, "fonts-dejavu-core", 'A')
	if err != nil {
		return nil, err
	}
	p := &PDF{cjk: cjk, latin: latin}
	// fpdf parses the fonts again per document: a font it cannot parse fails here, not at the first report.
	if _, err := p.Markdown("steward", "# steward\n\n字体检查 font check 0123456789\n", time.Unix(0, 0)); err != nil {
		return nil, err
	}
	return p, nil
}

// Fonts returns the paths of the Chinese and the Latin font.
func (p *PDF) Fonts() (cjk, latin string) { return p.cjk.path, p.latin.path }

// Report renders a stored document's Markdown version as PDF. The document's title and creation time
// go into the PDF's metadata, so the same stored version always gives the same bytes.
func (p *PDF) Report(r *db.Report) ([]byte, error) {
	if r.Format != db.FormatMarkdown {
		return nil, fmt.Errorf("pdf of %s %s v%d: from the markdown version, not %q", r.CaseID, r.Kind, r.Version, r.Format)
	}
	return p.Markdown(r.Title, r.Content, r.CreatedAt)
}

// PDFFilename is the file name a stored document's PDF is offered under: its stored title with the
// characters file systems refuse replaced, e.g. "安全事件应急响应报告 — sos_ORD-1 v2.pdf".
func PDFFilename(r *db.Report) string {
	title := strings.Map(func(c rune) rune {
		if unicode.IsControl(c) || strings.ContainsRune(`/\:*?"<>|`, c) {
			return '_'
		}
		return c
	}, oneLine(r.Title))
	if title == "" {
		title = PDFASCIIFilename(r)
		return title
	}
	if runes := []rune(title); len(runes) > 90 {
		title = string(runes[:90])
	}
	return title + ".pdf"
}

// PDFASCIIFilename is an ASCII-only file name for a stored document's PDF, for clients that read no
// other: "incident_report-sos_ORD-1-v2.pdf".
func PDFASCIIFilename(r *db.Report) string {
	safe := func(s string) string {
		return strings.Map(func(c rune) rune {
			if c < 128 && (c == '-' || c == '_' || c == '.' || unicode.IsLetter(c) || unicode.IsDigit(c)) {
				return c
			}
			return '_'
		}, s)
	}
	return safe(r.Kind) + "-" + safe(r.CaseID) + "-v" + strconv.Itoa(r.Version) + ".pdf"
}

// Page geometry, in millimetres, and type sizes, in points. Body text is 五号 (10.5 pt), headings 四号
// (14 pt), the title 小二 (18 pt), tables and notes 小五 (9 pt), as Chinese documents are set.
const (
	pdfMarginX      = 20.0
	pdfMarginTop    = 20.0
	pdfMarginBottom = 22.0
	pdfTitleSize    = 18.0
	pdfHeadingSize  = 14.0
	pdfBodySize     = 10.5
	pdfSmallSize    = 9.0
	pdfNoteSize     = 8.0
	pdfLeading      = 1.6 // line height over type size
	pdfCellPadX     = 1.8
	pdfCellPadY     = 1.2
)

// Colours.
var (
	pdfInk     = [3]int{26, 26, 26}
	pdfAccent  = [3]int{31, 56, 100}
	pdfGrey    = [3]int{110, 110, 110}
	pdfRuleInk = [3]int{150, 160, 175}
	pdfHeadBG  = [3]int{232, 237, 243}
)

// Markdown renders a document written in steward's Markdown (templates/*.md.tmpl) as PDF. title goes
// into the metadata and every page's footer; created is the document's creation time.
func (p *PDF) Markdown(title, markdown string, created time.Time) ([]byte, error) {
	title = oneLine(title)
	blocks := parseMarkdown(markdown)
	// Twice: the first time to count the pages that each footer's "共 N 页" names.
	_, pages, err := p.layout(title, blocks, created, 0)
	if err != nil {
		return nil, err
	}
	f, _, err := p.layout(title, blocks, created, pages)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		return nil, fmt.Errorf("render pdf %q: %w", title, err)
	}
	return b.Bytes(), nil
}

// layout sets blocks on A4 pages and returns the document and its number of pages; pages is the total
// the footers name (0: not known yet).
func (p *PDF) layout(title string, blocks []mdBlock, created time.Time, pages int) (*fpdf.Fpdf, int, error) {
	f := fpdf.New("P", "mm", "A4", "")
	f.SetMargins(pdfMarginX, pdfMarginTop, pdfMarginX)
	f.SetAutoPageBreak(false, pdfMarginBottom)
	f.SetCompression(true)
	f.SetCatalogSort(true) // resources in a fixed order: the same document, the same bytes
	f.AddUTF8FontFromBytes(faceCJK.family(), "", p.cjk.data)
	f.AddUTF8FontFromBytes(faceLatin.family(), "", p.latin.data)
	if f.Err() {
		return nil, 0, fmt.Errorf("%w: fonts %s, %s: %v", ErrPDFUnavailable, p.cjk.path, p.latin.path, f.Error())
	}
	f.SetTitle(title, true)
	f.SetAuthor("steward", true)
	f.SetCreator("steward", true)
	f.SetProducer("steward (go-pdf/fpdf)", true)
	f.SetLang("zh-CN")
	f.SetCreationDate(created.UTC())
	f.SetModificationDate(created.UTC())

	d := &pdfDoc{p: p, f: f, widths: map[pdfRune]float64{}}
	d.pageW, d.pageH = f.GetPageSize()
	d.textW = d.pageW - 2*pdfMarginX
	f.SetFooterFunc(func() { d.footer(title, pages) })
	f.AddPage()
	d.y = pdfMarginTop
	d.blocks(blocks)
	f.Close()
	if f.Err() {
		return nil, 0, fmt.Errorf("render pdf %q: %w", title, f.Error())
	}
	return f, f.PageCount(), nil
}

// pdfDoc lays out one document.
type pdfDoc struct {
	p            *PDF
	f            *fpdf.Fpdf
	pageW, pageH float64
	textW        float64
	y            float64 // top of the next line
	widths       map[pdfRune]float64
	afterRule    bool // after the closing rule: the colophon, set small
	afterTitle   bool // right after the title: the English subtitle, centred
}

type pdfRune struct {
	face pdfFace
	r    rune
}

// pdfRun is text in one face and weight.
type pdfRun struct {
	text string
	face pdfFace
	bold bool
}

// pdfUnit is what a line may not break inside: a Latin word, one Chinese character with the
// punctuation that must stay with it, or a space.
type pdfUnit struct {
	runs  []pdfRun
	w     float64 // width at the size it was measured for
	space bool
}

// pdfStyle is how a block's text is set.
type pdfStyle struct {
	size   float64
	color  [3]int
	bold   bool
	center bool
}

func ptToMM(pt float64) float64 { return pt * 25.4 / 72 }

func (s pdfStyle) leading() float64 { return ptToMM(s.size) * pdfLeading }

// faceOf picks the face a character is set in: Latin for what the Latin font has below the CJK blocks,
// else whichever font has it (the Chinese one first).
func (d *pdfDoc) faceOf(r rune) pdfFace {
	switch {
	case r < 0x2E80 && d.p.latin.cover.has(r):
		return faceLatin
	case d.p.cjk.cover.has(r):
		return faceCJK
	case d.p.latin.cover.has(r):
		return faceLatin
	}
	return faceCJK // neither has it: the CJK font's empty box shows where it was
}

// runeWidth is a character's advance at 1 pt, in millimetres.
func (d *pdfDoc) runeWidth(face pdfFace, r rune) float64 {
	k := pdfRune{face, r}
	if w, ok := d.widths[k]; ok {
		return w
	}
	d.f.SetFont(face.family(), "", 100)
	w := d.f.GetStringWidth(string(r)) / 100
	d.widths[k] = w
	return w
}

// Characters that may not begin a line (closing punctuation) or end one (opening punctuation): the line
// breaks before or after them moves, as Chinese typesetting (禁则) requires.
const (
	noLineStart = "，。、；：？！）》」』】〉〕”’…·%‰,.;:?!)]}—～"
	noLineEnd   = "（《「『【〈〔“‘([{"
)

// breaksAround reports whether a line may break before and after r alone: Chinese, Japanese and Korean
// characters and their punctuation, unlike the letters of a Latin word.
func breaksAround(r rune) bool {
	return r >= 0x2E80 && r <= 0x9FFF || r >= 0xAC00 && r <= 0xD7AF || r >= 0xF900 && r <= 0xFAFF ||
		r >= 0xFE30 && r <= 0xFE4F || r >= 0xFF00 && r <= 0xFFEF || r >= 0x20000 && r <= 0x3FFFF ||
		r == '—' || r == '…' || r == '“' || r == '”' || r == '‘' || r == '’'
}

// units splits one line of spans into the units a line may break between, measured at size.
func (d *pdfDoc) units(spans []mdSpan, size float64, bold bool) []pdfUnit {
	type ch struct {
		r    rune
		bold bool
	}
	var chars []ch
	for _, sp := range spans {
		for _, r := range sp.text {
			chars = append(chars, ch{r, sp.bold || bold})
		}
	}
	// Group the characters: a space alone, a CJK character alone, a run of anything else together.
	var groups [][]ch
	for i, c := range chars {
		startNew := i == 0 || c.r == ' ' || chars[i-1].r == ' ' || breaksAround(c.r) || breaksAround(chars[i-1].r)
		if startNew {
			groups = append(groups, []ch{c})
		} else {
			groups[len(groups)-1] = append(groups[len(groups)-1], c)
		}
	}
	// 禁则: a group opening with closing punctuation joins the one before it, a group ending in opening
	// punctuation joins the one after it (neither across a space).
	var merged [][]ch
	for _, g := range groups {
		n := len(merged)
		switch {
		case n > 0 && g[0].r != ' ' && merged[n-1][len(merged[n-1])-1].r != ' ' &&
			(strings.ContainsRune(noLineStart, g[0].r) || strings.ContainsRune(noLineEnd, merged[n-1][len(merged[n-1])-1].r)):
			merged[n-1] = append(merged[n-1], g...)
		default:
			merged = append(merged, g)
		}
	}
	out := make([]pdfUnit, 0, len(merged))
	for _, g := range merged {
		u := pdfUnit{space: len(g) == 1 && g[0].r == ' '}
		face := faceLatin
		for i, c := range g {
			f := d.faceOf(c.r)
			if c.r == ' ' && i > 0 {
				f = face // a space keeps the face before it
			}
			face = f
			u.w += d.runeWidth(f, c.r) * size
			if n := len(u.runs); n > 0 && u.runs[n-1].face == f && u.runs[n-1].bold == c.bold {
				u.runs[n-1].text += string(c.r)
			} else {
				u.runs = append(u.runs, pdfRun{text: string(c.r), face: f, bold: c.bold})
			}
		}
		out = append(out, u)
	}
	return out
}

// wrap breaks units into lines no wider than width: greedily, at unit boundaries, a unit wider than a
// line split between characters. Spaces at a line's ends are dropped.
func (d *pdfDoc) wrap(units []pdfUnit, width, size float64) [][]pdfUnit {
	var (
		lines [][]pdfUnit
		line  []pdfUnit
		w     float64
	)
	push := func() {
		for len(line) > 0 && line[len(line)-1].space {
			w -= line[len(line)-1].w
			line = line[:len(line)-1]
		}
		lines = append(lines, line)
		line, w = nil, 0
	}
	for i := 0; i < len(units); i++ {
		u := units[i]
		switch {
		case u.space && len(line) == 0:
			continue
		case w+u.w <= width+1e-6:
			line = append(line, u)
			w += u.w
		case len(line) > 0:
			push()
			i-- // this unit starts the next line
		default:
			// Wider than a whole line: as many characters as fit, the rest in a new unit.
			head, tail := d.splitUnit(u, width, size)
			line = append(line, head)
			w += head.w
			push()
			if len(tail.runs) > 0 {
				units[i] = tail
				i--
			}
		}
	}
	if len(line) > 0 || len(lines) == 0 {
		push()
	}
	return lines
}

// splitUnit splits u after the last character that fits in width (at least one), moving the break
// back a character when the rest would begin with closing punctuation.
func (d *pdfDoc) splitUnit(u pdfUnit, width, size float64) (head, tail pdfUnit) {
	type ch struct {
		r    rune
		face pdfFace
		bold bool
		w    float64
	}
	var chars []ch
	for _, run := range u.runs {
		for _, r := range run.text {
			chars = append(chars, ch{r, run.face, run.bold, d.runeWidth(run.face, r) * size})
		}
	}
	n, w := 0, 0.0
	for n < len(chars) && (n == 0 || w+chars[n].w <= width) {
		w += chars[n].w
		n++
	}
	for n > 1 && n < len(chars) && strings.ContainsRune(noLineStart, chars[n].r) {
		n--
	}
	add := func(dst *pdfUnit, c ch) {
		dst.w += c.w
		if k := len(dst.runs); k > 0 && dst.runs[k-1].face == c.face && dst.runs[k-1].bold == c.bold {
			dst.runs[k-1].text += string(c.r)
		} else {
			dst.runs = append(dst.runs, pdfRun{text: string(c.r), face: c.face, bold: c.bold})
		}
	}
	for i, c := range chars {
		if i < n {
			add(&head, c)
		} else {
			add(&tail, c)
		}
	}
	return head, tail
}

func lineWidth(line []pdfUnit) float64 {
	w := 0.0
	for _, u := range line {
		w += u.w
	}
	return w
}

// drawLine sets one line with its top at top, from x.
func (d *pdfDoc) drawLine(line []pdfUnit, x, top float64, st pdfStyle) {
	f := d.f
	sizeMM := ptToMM(st.size)
	baseline := top + st.leading()/2 + 0.3*sizeMM
	f.SetTextColor(st.color[0], st.color[1], st.color[2])
	for _, u := range line {
		for _, run := range u.runs {
			f.SetFont(run.face.family(), "", st.size)
			if run.bold {
				// Neither font has a bold face: a thin outline in the text's colour thickens the strokes.
				f.SetDrawColor(st.color[0], st.color[1], st.color[2])
				f.SetLineWidth(sizeMM * 0.03)
				f.SetTextRenderingMode(2)
			}
			f.Text(x, baseline, run.text)
			if run.bold {
				f.SetTextRenderingMode(0)
			}
			for _, r := range run.text {
				x += d.runeWidth(run.face, r) * st.size
			}
		}
	}
}

// bottom is the lowest a line may end on a page.
func (d *pdfDoc) bottom() float64 { return d.pageH - pdfMarginBottom }

// ensure starts a new page unless h more millimetres fit on this one.
func (d *pdfDoc) ensure(h float64) {
	if d.y+h > d.bottom() && d.y > pdfMarginTop+0.01 {
		d.newPage()
	}
}

func (d *pdfDoc) newPage() {
	d.f.AddPage()
	d.y = pdfMarginTop
}

// text sets inline Markdown as a paragraph at x, width wide, in style st.
func (d *pdfDoc) text(s string, x, width float64, st pdfStyle) {
	lh := st.leading()
	for _, hard := range parseInline(s) {
		for _, line := range d.wrap(d.units(hard, st.size, st.bold), width, st.size) {
			d.ensure(lh)
			lx := x
			if st.center {
				lx = x + (width-lineWidth(line))/2
			}
			d.drawLine(line, lx, d.y, st)
			d.y += lh
		}
	}
}

func (d *pdfDoc) blocks(blocks []mdBlock) {
	body := pdfStyle{size: pdfBodySize, color: pdfInk}
	for i, b := range blocks {
		afterTitle := d.afterTitle
		d.afterTitle = false
		switch b.kind {
		case blockTitle:
			st := pdfStyle{size: pdfTitleSize, color: pdfInk, bold: true, center: true}
			d.y += 2
			d.text(b.text, pdfMarginX, d.textW, st)
			d.y += 1
			d.afterTitle = true
		case blockHeading:
			st := pdfStyle{size: pdfHeadingSize, color: pdfAccent, bold: true}
			d.y += 4
			d.ensure(st.leading() + 3*body.leading()) // keep a heading with what follows it
			d.text(b.text, pdfMarginX, d.textW, st)
			d.f.SetDrawColor(pdfRuleInk[0], pdfRuleInk[1], pdfRuleInk[2])
			d.f.SetLineWidth(0.2)
			d.f.Line(pdfMarginX, d.y, pdfMarginX+d.textW, d.y)
			d.y += 2
		case blockPara:
			switch {
			case d.afterRule:
				d.text(b.text, pdfMarginX, d.textW, pdfStyle{size: pdfNoteSize, color: pdfGrey, center: true})
			case afterTitle:
				d.text(b.text, pdfMarginX, d.textW, pdfStyle{size: pdfBodySize, color: pdfGrey, center: true})
				d.y += 3
			default:
				d.text(b.text, pdfMarginX, d.textW, body)
			}
			d.y += 1.2
		case blockBullet, blockNumbered:
			label, indent := "•", 5.0
			if b.kind == blockNumbered {
				label, indent = b.label, 7.0
			}
			d.ensure(body.leading())
			top := d.y
			d.drawLine(d.wrap(d.units([]mdSpan{{text: label}}, body.size, false), indent, body.size)[0], pdfMarginX+1, top, body)
			d.text(b.text, pdfMarginX+1+indent, d.textW-1-indent, body)
			if i+1 < len(blocks) && blocks[i+1].kind != b.kind {
				d.y += 1.2
			}
		case blockTable:
			d.table(b)
			d.y += 2.5
		case blockRule:
			d.y += 3
			d.ensure(6)
			d.f.SetDrawColor(pdfRuleInk[0], pdfRuleInk[1], pdfRuleInk[2])
			d.f.SetLineWidth(0.3)
			d.f.Line(pdfMarginX, d.y, pdfMarginX+d.textW, d.y)
			d.y += 3
			d.afterRule = true
		}
	}
}

// pdfCell is one table cell laid out: its lines at the table's size.
type pdfCell struct {
	lines [][]pdfUnit
}

// table sets a table across the text width: columns as wide as their text allows, the rest shared out;
// rows split across pages where they must, the header repeated on each page.
func (d *pdfDoc) table(b mdBlock) {
	st := pdfStyle{size: pdfSmallSize, color: pdfInk}
	head := pdfStyle{size: pdfSmallSize, color: pdfInk, bold: true}
	cols := len(b.header)
	for _, r := range b.rows {
		cols = max(cols, len(r))
	}
	if cols == 0 {
		return
	}
	pad := func(cells []string) []string {
		out := make([]string, cols)
		copy(out, cells)
		return out
	}
	var rows [][]string
	if b.header != nil {
		rows = append(rows, pad(b.header))
	}
	for _, r := range b.rows {
		rows = append(rows, pad(r))
	}
	// Natural width: the widest line of the column's body unwrapped (a header may wrap: "是否违约
	// Breached" should not widen a column of 是/否); minimum: its widest unbreakable unit, header included.
	natural, minimum, headerNat := make([]float64, cols), make([]float64, cols), make([]float64, cols)
	for ri, r := range rows {
		isHeader := ri == 0 && b.header != nil
		for c, cell := range r {
			for _, hard := range parseInline(cell) {
				units := d.cellUnits(hard, st.size, isHeader)
				if w := lineWidth(units) + 2*pdfCellPadX; isHeader {
					headerNat[c] = max(headerNat[c], w)
				} else {
					natural[c] = max(natural[c], w)
				}
				for _, u := range units {
					minimum[c] = max(minimum[c], u.w+2*pdfCellPadX)
				}
			}
		}
	}
	for c := range natural {
		natural[c] = max(natural[c], minimum[c])
		if natural[c] <= 2*pdfCellPadX {
			natural[c] = headerNat[c] // a column with an empty body reads as its header
		}
	}
	widths := shareWidths(natural, minimum, d.textW)

	layout := func(r []string, bold bool) []pdfCell {
		cells := make([]pdfCell, cols)
		for c, cell := range r {
			for _, hard := range parseInline(cell) {
				cells[c].lines = append(cells[c].lines, d.wrap(d.cellUnits(hard, st.size, bold), widths[c]-2*pdfCellPadX, st.size)...)
			}
		}
		return cells
	}
	var header []pdfCell
	if b.header != nil {
		header = layout(rows[0], true)
		rows = rows[1:]
	}
	lh := st.leading()
	drawRow := func(cells []pdfCell, style pdfStyle, fill bool) {
		// Lines left to set per cell; a row taller than the page goes on over the next.
		for {
			most := 0
			for _, c := range cells {
				most = max(most, len(c.lines))
			}
			fits := int((d.bottom() - d.y - 2*pdfCellPadY) / lh)
			if fits < min(most, 2) && d.y > pdfMarginTop+0.01 {
				d.newPage()
				if header != nil && !fill {
					d.row(header, widths, head, lh, len(maxLines(header)), true)
				}
				continue
			}
			n := min(most, max(fits, 1))
			d.row(cells, widths, style, lh, n, fill)
			rest := make([]pdfCell, len(cells))
			done := true
			for i, c := range cells {
				if len(c.lines) > n {
					rest[i].lines = c.lines[n:]
					done = false
				}
			}
			if done {
				return
			}
			cells = rest
		}
	}
	if header != nil {
		drawRow(header, head, true)
	}
	for _, r := range rows {
		drawRow(layout(r, false), st, false)
	}
}

// cellUnits is units for a table cell; a header cell breaks at its spaces only, so that "是否违约
// Breached" wraps as two words, never inside 是否违约.
func (d *pdfDoc) cellUnits(spans []mdSpan, size float64, header bool) []pdfUnit {
	units := d.units(spans, size, header)
	if !header {
		return units
	}
	var out []pdfUnit
	for _, u := range units {
		if n := len(out); n > 0 && !u.space && !out[n-1].space {
			out[n-1].runs = append(out[n-1].runs, u.runs...)
			out[n-1].w += u.w
			continue
		}
		u.runs = slices.Clone(u.runs)
		out = append(out, u)
	}
	return out
}

// maxLines returns the cells' line lists (used for the header's height).
func maxLines(cells []pdfCell) [][]pdfUnit {
	var most [][]pdfUnit
	for _, c := range cells {
		if len(c.lines) > len(most) {
			most = c.lines
		}
	}
	return most
}

// row draws the first n lines of each cell as one row at d.y, with borders, and moves below it.
func (d *pdfDoc) row(cells []pdfCell, widths []float64, st pdfStyle, lh float64, n int, fill bool) {
	f := d.f
	h := float64(n)*lh + 2*pdfCellPadY
	x := pdfMarginX
	f.SetLineWidth(0.2)
	f.SetDrawColor(pdfRuleInk[0], pdfRuleInk[1], pdfRuleInk[2])
	for i, c := range cells {
		style := "D"
		if fill {
			f.SetFillColor(pdfHeadBG[0], pdfHeadBG[1], pdfHeadBG[2])
			style = "FD"
		}
		f.SetDrawColor(pdfRuleInk[0], pdfRuleInk[1], pdfRuleInk[2])
		f.SetLineWidth(0.2)
		f.Rect(x, d.y, widths[i], h, style)
		for j, line := range c.lines {
			if j >= n {
				break
			}
			d.drawLine(line, x+pdfCellPadX, d.y+pdfCellPadY+float64(j)*lh, st)
		}
		x += widths[i]
	}
	d.y += h
}

// shareWidths sizes columns to fill total. When all fit, each gets its natural width, scaled up.
// Otherwise a column narrower than an even share of what is left keeps its natural width (short columns
// such as dates and flags never wrap), and the others get their minimum plus the rest in proportion to
// what each still lacks; minimums that do not fit are scaled down (their words then break between
// letters).
func shareWidths(natural, minimum []float64, total float64) []float64 {
	n := len(natural)
	out := make([]float64, n)
	sumNat := 0.0
	for i := range natural {
		minimum[i] = min(minimum[i], natural[i])
		sumNat += natural[i]
	}
	if sumNat <= total {
		for i := range out {
			out[i] = natural[i] * total / sumNat
		}
		return out
	}
	fixed := make([]bool, n)
	left, count := total, n
	for changed := true; changed && count > 1; {
		changed = false
		for i := range natural {
			if !fixed[i] && count > 1 && natural[i] <= left/float64(count) {
				fixed[i], out[i] = true, natural[i]
				left -= natural[i]
				count--
				changed = true
			}
		}
	}
	sumNat, sumMin := 0.0, 0.0
	for i := range natural {
		if !fixed[i] {
			sumNat += natural[i]
			sumMin += minimum[i]
		}
	}
	for i := range out {
		switch {
		case fixed[i]:
		case sumMin >= left:
			out[i] = minimum[i] * left / sumMin
		default:
			out[i] = minimum[i] + (left-sumMin)*(natural[i]-minimum[i])/(sumNat-sumMin)
		}
	}
	return out
}

// footer sets the page's footer: the document's title and "第 n 页 / 共 N 页" (without the total while
// it is not known).
func (d *pdfDoc) footer(title string, pages int) {
	st := pdfStyle{size: pdfNoteSize, color: pdfGrey}
	top := d.pageH - pdfMarginBottom + 8
	d.f.SetDrawColor(pdfRuleInk[0], pdfRuleInk[1], pdfRuleInk[2])
	d.f.SetLineWidth(0.2)
	d.f.Line(pdfMarginX, top-1.5, pdfMarginX+d.textW, top-1.5)
	text := fmt.Sprintf("第 %d 页", d.f.PageNo())
	if pages > 0 {
		text += fmt.Sprintf(" / 共 %d 页", pages)
	}
	page := d.wrap(d.units([]mdSpan{{text: text}}, st.size, false), d.textW, st.size)[0]
	pw := lineWidth(page)
	titleLine := d.wrap(d.units([]mdSpan{{text: title}}, st.size, false), d.textW-pw-6, st.size)
	d.drawLine(titleLine[0], pdfMarginX, top, st)
	d.drawLine(page, pdfMarginX+d.textW-pw, top, st)
}
