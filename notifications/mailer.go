package notifications

import "context"

// Mail is one e-mail: plain text and, optionally, an HTML alternative.
type Mail struct {
	To      []string
	Subject string
	Text    string
	HTML    string
}

// Mailer sends e-mail.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}
