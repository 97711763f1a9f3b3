package main

import (
	"log/slog"
	"sync"

	"github.com/steward-oss/steward/activities"
)

// pdfConfig is where the fonts of PDF reports are: flags of dev, worker and api.
type pdfConfig struct {
	font, latinFont string

	once sync.Once
	pdf  *activities.PDF
}

func (c *pdfConfig) register(f flags) {
	f.str(&c.font, "pdf-font", activities.EnvPDFFont, activities.DefaultPDFFont,
		"TrueType font for Chinese in PDF reports (Debian: fonts-droid-fallback, Apache 2.0)")
	f.str(&c.latinFont, "pdf-latin-font", activities.EnvPDFLatinFont, activities.DefaultPDFLatinFont,
		"TrueType font for Latin letters and digits in PDF reports (Debian: fonts-dejavu-core)")
}

// renderer loads the fonts once and returns the PDF renderer, or nil when they are missing or unusable:
// steward runs without them (a Go toolchain is all `steward dev` needs), the error saying what to install
// is logged at start, PDF requests answer 503 with it and report e-mails go without their PDF.
func (c *pdfConfig) renderer(logger *slog.Logger) *activities.PDF {
	c.once.Do(func() {
		p, err := activities.NewPDF(c.font, c.latinFont)
		if err != nil {
			logger.Error("PDF reports are off", slog.Any("error", err))
			return
		}
		cjk, latin := p.Fonts()
		logger.Info("PDF reports on", slog.String("font", cjk), slog.String("latin_font", latin))
		c.pdf = p
	})
	return c.pdf
}
