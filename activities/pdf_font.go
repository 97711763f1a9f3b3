package activities

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
)

// The fonts a PDF is set in. fpdf embeds TrueType (glyf) outlines only: CFF-flavoured OpenType (.otf,
// Noto CJK's .ttc) and font collections are refused with a message saying so.
const (
	// EnvPDFFont names the environment variable with the path of the font Chinese is set in.
	EnvPDFFont = "STEWARD_PDF_FONT"
	// DefaultPDFFont is Debian's fonts-droid-fallback: Droid Sans Fallback Full, TrueType outlines, Apache
	// License 2.0. It covers Chinese (and Japanese and Korean) but no Latin letters or digits.
	DefaultPDFFont = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"
	// EnvPDFLatinFont names the environment variable with the path of the font Latin letters, digits and
	// Western punctuation are set in.
	EnvPDFLatinFont = "STEWARD_PDF_LATIN_FONT"
	// DefaultPDFLatinFont is Debian's fonts-dejavu-core: DejaVu Sans, TrueType outlines, under the
	// Bitstream Vera licence (DejaVu's changes are in the public domain).
	DefaultPDFLatinFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
)

// ErrPDFUnavailable marks a PDF that cannot be made because its fonts are missing or unusable.
var ErrPDFUnavailable = errors.New("pdf rendering unavailable")

// pdfFace is one of the two fonts a PDF is set in.
type pdfFace int

const (
	faceCJK pdfFace = iota
	faceLatin
)

// family is the face's name inside the PDF.
func (f pdfFace) family() string {
	if f == faceLatin {
		return "latin"
	}
	return "cjk"
}

// pdfFont is one TrueType font file, read once, and the characters it has glyphs for.
type pdfFont struct {
	path  string
	data  []byte
	cover runeRanges
}

// loadPDFFont reads a TrueType font and its character map. role and env name it in errors, which say how
// to fix what is wrong.
func loadPDFFont(path, role, env, pkg string, probe rune) (*pdfFont, error) {
	fix := fmt.Sprintf("install Debian's %s or set %s to a TrueType (.ttf) font", pkg, env)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s font %s is missing: %s", ErrPDFUnavailable, role, path, fix)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s font: %v: %s", ErrPDFUnavailable, role, err, fix)
	}
	cover, err := trueTypeCoverage(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s font %s: %v: %s", ErrPDFUnavailable, role, path, err, fix)
	}
	if !cover.has(probe) {
		return nil, fmt.Errorf("%w: %s font %s has no glyph for %q: %s", ErrPDFUnavailable, role, path, probe, fix)
	}
	return &pdfFont{path: path, data: data, cover: cover}, nil
}

// runeRanges is a sorted list of inclusive, disjoint character ranges.
type runeRanges [][2]rune

func (rs runeRanges) has(r rune) bool {
	i, found := slices.BinarySearchFunc(rs, r, func(rg [2]rune, r rune) int {
		switch {
		case rg[1] < r:
			return -1
		case rg[0] > r:
			return 1
		}
		return 0
	})
	return found && i < len(rs)
}

// add appends r, which must not be below the last rune added.
func (rs runeRanges) add(r rune) runeRanges {
	if n := len(rs); n > 0 && rs[n-1][1]+1 >= r {
		rs[n-1][1] = max(rs[n-1][1], r)
		return rs
	}
	return append(rs, [2]rune{r, r})
}

// trueTypeCoverage checks that data is a single TrueType font and returns the characters its Unicode
// cmap maps to a glyph (formats 4 and 12).
func trueTypeCoverage(data []byte) (runeRanges, error) {
	if len(data) < 12 {
		return nil, errors.New("not a font file")
	}
	switch string(data[:4]) {
	case "\x00\x01\x00\x00", "true":
	case "OTTO":
		return nil, errors.New("OpenType with CFF outlines, which fpdf cannot embed (it needs TrueType glyf outlines)")
	case "ttcf":
		return nil, errors.New("a font collection (.ttc), which fpdf cannot read")
	default:
		return nil, errors.New("not a TrueType font")
	}
	be := binary.BigEndian
	n := int(be.Uint16(data[4:]))
	var cmap []byte
	hasGlyf := false
	for i := range n {
		rec := 12 + 16*i
		if rec+16 > len(data) {
			return nil, errors.New("truncated table directory")
		}
		tag := string(data[rec : rec+4])
		off, length := int(be.Uint32(data[rec+8:])), int(be.Uint32(data[rec+12:]))
		if off < 0 || length < 0 || off+length > len(data) {
			return nil, fmt.Errorf("table %s lies outside the file", tag)
		}
		switch tag {
		case "cmap":
			cmap = data[off : off+length]
		case "glyf":
			hasGlyf = true
		}
	}
	if !hasGlyf {
		return nil, errors.New("no TrueType (glyf) outlines")
	}
	if len(cmap) < 4 {
		return nil, errors.New("no character map (cmap)")
	}
	// The best Unicode subtable: full repertoire (format 12) before the BMP (format 4).
	best, bestRank := -1, 0
	for i := range int(be.Uint16(cmap[2:])) {
		rec := 4 + 8*i
		if rec+8 > len(cmap) {
			break
		}
		platform, encoding, off := be.Uint16(cmap[rec:]), be.Uint16(cmap[rec+2:]), int(be.Uint32(cmap[rec+4:]))
		if off+2 > len(cmap) {
			continue
		}
		format := be.Uint16(cmap[off:])
		rank := 0
		switch {
		case format == 12 && (platform == 3 && encoding == 10 || platform == 0):
			rank = 2
		case format == 4 && (platform == 3 && encoding == 1 || platform == 0):
			rank = 1
		}
		if rank > bestRank {
			best, bestRank = off, rank
		}
	}
	if best < 0 {
		return nil, errors.New("no Unicode character map (cmap format 4 or 12)")
	}
	sub := cmap[best:]
	var rs runeRanges
	bad := errors.New("malformed character map")
	if bestRank == 2 {
		if len(sub) < 16 {
			return nil, bad
		}
		groups := int(be.Uint32(sub[12:]))
		if 16+12*groups > len(sub) {
			return nil, bad
		}
		for g := range groups {
			p := 16 + 12*g
			start, end, glyph := rune(be.Uint32(sub[p:])), rune(be.Uint32(sub[p+4:])), be.Uint32(sub[p+8:])
			if glyph == 0 {
				start++ // the first maps to .notdef
			}
			for r := start; r <= end && r <= 0x10FFFF; r++ {
				rs = rs.add(r)
			}
		}
		return rs, nil
	}
	if len(sub) < 14 {
		return nil, bad
	}
	segs := int(be.Uint16(sub[6:])) / 2
	ends, starts, deltas, rangeOffs := 14, 16+2*segs, 16+4*segs, 16+6*segs
	if rangeOffs+2*segs > len(sub) {
		return nil, bad
	}
	for s := range segs {
		end, start := rune(be.Uint16(sub[ends+2*s:])), rune(be.Uint16(sub[starts+2*s:]))
		delta, ro := be.Uint16(sub[deltas+2*s:]), int(be.Uint16(sub[rangeOffs+2*s:]))
		for r := start; r <= end && r != 0xFFFF; r++ {
			glyph := uint16(r) + delta
			if ro != 0 {
				p := rangeOffs + 2*s + ro + 2*int(r-start)
				if p+2 > len(sub) {
					return nil, bad
				}
				if glyph = be.Uint16(sub[p:]); glyph != 0 {
					glyph += delta
				}
			}
			if glyph != 0 {
				rs = rs.add(r)
			}
		}
	}
	return rs, nil
}
