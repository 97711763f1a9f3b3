package notifications

import "context"

// Mail is one e-mail: plain text and, optionally, an HTML alternative and files attached to it.
type Mail struct {
	To      []string
	Subject string
	Text    string
	HTML    string
	// Attachments are sent after the body, in order (a report as PDF, for instance).
	Attachments []Attachment
}

// Attachment is one file attached to a Mail.
type Attachment struct {
	// Filename is the name the recipient's client offers to save it under, e.g. "安全管家服务报告-v3.pdf". It
	// may be non-ASCII; it must not be empty nor hold a path separator or a control character.
	Filename string
	// ContentType is its media type, e.g. "application/pdf".
	ContentType string
	// Data is its content.
	Data []byte
}

// Mailer sends e-mail.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}
