package notifications

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultSMTPTimeout bounds one SMTP conversation, dial included, when SMTP.Timeout is zero.
const DefaultSMTPTimeout = 30 * time.Second

var (
	// ErrInvalidMail marks a Mail, or a sender address, that cannot be sent as it is: sending it again
	// will not help. It is Permanent.
	ErrInvalidMail error = &permanentSentinel{"invalid mail"}
	// ErrRejected marks a mail server's permanent (5xx) refusal of the sender, of a recipient or of the
	// message, in reply to MAIL, RCPT or DATA: sending it again will not help. It is Permanent, and Reason
	// names what was refused (a recipient by its position, not its address) and the server's reply. A 4xx
	// reply, a refused login (AUTH) and a transport error are temporary.
	ErrRejected error = &permanentSentinel{"mail rejected"}
)

var (
	_ Mailer = (*SMTP)(nil)
	_ Mailer = (*LogMailer)(nil)
)

// SMTP sends mail through an SMTP server, one connection per message. A message is all or nothing: a
// refused recipient aborts it, so a retry never reaches the others twice. It is safe for concurrent use.
type SMTP struct {
	// Addr is the server's host:port (usually the submission port, 587).
	Addr string
	// From is the sender, a bare address or "Name <address>"; it is the envelope sender and the From header.
	From string
	// Username, when set, authenticates with AUTH PLAIN. net/smtp sends the credentials only over TLS
	// (STARTTLS) or to localhost, and fails otherwise rather than leak the password.
	Username, Password string
	// StartTLS requires STARTTLS: a server that does not offer it is an error. When false, STARTTLS is
	// still used whenever the server offers it. Either way a certificate that does not verify is an error.
	StartTLS bool
	// TLSConfig configures STARTTLS; nil means the system roots. ServerName defaults to Addr's host.
	TLSConfig *tls.Config
	// Timeout bounds the whole conversation, dial included; zero means DefaultSMTPTimeout. The ctx
	// passed to Send may end it sooner.
	Timeout time.Duration
}

// Send delivers m. m is validated before any connection is made; the errors then wrap ErrInvalidMail.
// A 5xx refusal of the sender, of a recipient (named in the error) or of the message wraps ErrRejected.
func (s *SMTP) Send(ctx context.Context, m Mail) error {
	if err := m.Validate(); err != nil {
		return err
	}
	to, err := m.recipients()
	if err != nil {
		return err
	}
	from, err := parseAddress("sender", s.From)
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("smtp address %q: %w", s.Addr, err)
	}
	msg, err := buildMessage(from, to, m, time.Now())
	if err != nil {
		return fmt.Errorf("smtp: build message: %w", err)
	}

	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultSMTPTimeout
	}
	deadline := time.Now().Add(timeout)
	d := net.Dialer{Deadline: deadline}
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("smtp dial %s: %w", s.Addr, err)
	}
	defer conn.Close()
	// net/smtp knows no contexts: the timeout and ctx both end blocked reads and writes through the
	// connection's deadline.
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if err := s.converse(conn, host, from, to, msg); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", context.Cause(ctx), err)
		}
		return err
	}
	return nil
}

// converse runs one SMTP transaction over conn.
func (s *SMTP) converse(conn net.Conn, host string, from *mail.Address, to []*mail.Address, msg []byte) error {
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("smtp greeting from %s: %w", s.Addr, err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("smtp ehlo: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(s.tlsConfig(host)); err != nil {
			return fmt.Errorf("smtp starttls: %w", err)
		}
	} else if s.StartTLS {
		return fmt.Errorf("smtp: %s does not offer STARTTLS, which is required", s.Addr)
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		// Our own sender refused is a configuration an operator can fix: retried (within the workflow's
		// bound on a notification), not given up.
		return fmt.Errorf("smtp mail from: %w", err)
	}
	for i, rcpt := range to {
		if err := c.Rcpt(rcpt.Address); err != nil {
			what := fmt.Sprintf("recipient %d of %d", i+1, len(to)) // by position: no address in errors, logs or history
			return fmt.Errorf("smtp %s: %w", what, rejected(err, what))
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp data: %w", rejected(err, "message"))
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp data: %w", rejected(err, "message"))
	}
	// The server has accepted the message: a failed QUIT must not turn into a retry and a second copy.
	_ = c.Quit()
	return nil
}

func (s *SMTP) tlsConfig(host string) *tls.Config {
	cfg := &tls.Config{}
	if s.TLSConfig != nil {
		cfg = s.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return cfg
}

// rejected marks a permanent (5xx) SMTP reply with ErrRejected, what was refused and the reply being the
// reason (Reason masks an address the server may echo). A 4xx reply or a transport error stays as it is.
func rejected(err error, what string) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 && te.Code < 600 {
		return fmt.Errorf("%w: %w", ErrRejected, Undeliverable(fmt.Sprintf("smtp %s refused: %d %s", what, te.Code, te.Msg), err))
	}
	return err
}

// Validate reports whether m can be sent: at least one recipient, each a valid address; a subject; and a
// body. Line breaks and other control characters are refused in the subject and the addresses, so no one
// can inject a header. The errors wrap ErrInvalidMail.
func (m Mail) Validate() error {
	if _, err := m.recipients(); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(m.Subject) == "":
		return fmt.Errorf("%w: empty subject", ErrInvalidMail)
	case strings.ContainsFunc(m.Subject, unicode.IsControl):
		return fmt.Errorf("%w: subject contains a line break or another control character", ErrInvalidMail)
	case !utf8.ValidString(m.Subject):
		return fmt.Errorf("%w: subject is not valid UTF-8", ErrInvalidMail)
	case m.Text == "" && m.HTML == "":
		return fmt.Errorf("%w: empty body", ErrInvalidMail)
	case !utf8.ValidString(m.Text) || !utf8.ValidString(m.HTML):
		return fmt.Errorf("%w: body is not valid UTF-8", ErrInvalidMail)
	}
	total := 0
	for i, a := range m.Attachments {
		if err := a.validate(); err != nil {
			return fmt.Errorf("%w: attachment %d: %w", ErrInvalidMail, i+1, err)
		}
		total += len(a.Data)
	}
	if total > MaxAttachmentBytes {
		return fmt.Errorf("%w: attachments of %d bytes, more than %d", ErrInvalidMail, total, MaxAttachmentBytes)
	}
	return nil
}

// MaxAttachmentBytes bounds the attachments of one Mail together. Base64 makes them a third larger on
// the wire, which stays under the 25 MB that common mail servers take.
const MaxAttachmentBytes = 10 << 20

// maxFilenameRunes bounds an attachment's file name, so that its encoded header stays well within a line.
const maxFilenameRunes = 100

func (a Attachment) validate() error {
	switch {
	case a.Filename == "" || strings.TrimSpace(a.Filename) != a.Filename:
		return errors.New("file name is empty or starts or ends with a space")
	case !utf8.ValidString(a.Filename) || utf8.RuneCountInString(a.Filename) > maxFilenameRunes:
		return fmt.Errorf("file name is not valid UTF-8 or longer than %d characters", maxFilenameRunes)
	case strings.ContainsFunc(a.Filename, unicode.IsControl) || strings.ContainsAny(a.Filename, `/\"`):
		return errors.New("file name holds a control character, a quote or a path separator")
	case len(a.Data) == 0:
		return errors.New("no content")
	}
	if strings.ContainsFunc(a.ContentType, unicode.IsControl) {
		return errors.New("content type holds a control character")
	}
	mt, params, err := mime.ParseMediaType(a.ContentType)
	if err != nil || len(params) > 0 || !strings.Contains(mt, "/") || strings.HasPrefix(mt, "multipart/") {
		return fmt.Errorf("content type %q: want a plain media type such as application/pdf", a.ContentType)
	}
	return nil
}

func (m Mail) recipients() ([]*mail.Address, error) {
	if len(m.To) == 0 {
		return nil, fmt.Errorf("%w: no recipients", ErrInvalidMail)
	}
	to := make([]*mail.Address, len(m.To))
	for i, s := range m.To {
		a, err := parseAddress(fmt.Sprintf("recipient %d", i+1), s)
		if err != nil {
			return nil, err
		}
		to[i] = a
	}
	return to, nil
}

// parseAddress parses one address ("a@example.com" or "Name <a@example.com>"). The address itself must be
// ASCII: internationalized mailboxes would need SMTPUTF8, which not every server offers.
func parseAddress(role, s string) (*mail.Address, error) {
	if strings.ContainsFunc(s, unicode.IsControl) {
		return nil, fmt.Errorf("%w: %s %q contains a line break or another control character", ErrInvalidMail, role, s)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %q: %w", ErrInvalidMail, role, s, err)
	}
	for _, r := range a.Address {
		if r > unicode.MaxASCII {
			return nil, fmt.Errorf("%w: %s %q: non-ASCII addresses are not supported", ErrInvalidMail, role, s)
		}
	}
	return a, nil
}

// buildMessage renders m as an RFC 5322 message with CRLF line endings. The body is plain text, or
// multipart/alternative with the plain text first and the HTML last (the preferred alternative), each
// quoted-printable UTF-8. With attachments, the message is multipart/mixed: that body, then each
// attachment in base64.
func buildMessage(from *mail.Address, to []*mail.Address, m Mail, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	rcpts := make([]string, len(to))
	for i, a := range to {
		rcpts[i] = a.String()
	}
	header("From", from.String())
	header("To", strings.Join(rcpts, ",\r\n "))
	header("Subject", encodeHeader(m.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+strings.ToLower(rand.Text())+"@steward>")
	header("MIME-Version", "1.0")
	// RFC 3834: tells vacation responders not to answer a machine.
	header("Auto-Submitted", "auto-generated")

	bodyType, bodyEncoding, body, err := bodyEntity(m)
	if err != nil {
		return nil, err
	}
	if len(m.Attachments) == 0 {
		header("Content-Type", bodyType)
		if bodyEncoding != "" {
			header("Content-Transfer-Encoding", bodyEncoding)
		}
		b.WriteString("\r\n")
		b.Write(body)
		return b.Bytes(), nil
	}
	mixed := multipart.NewWriter(&b)
	header("Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mixed.Boundary()}))
	b.WriteString("\r\n")
	h := textproto.MIMEHeader{"Content-Type": {bodyType}}
	if bodyEncoding != "" {
		h.Set("Content-Transfer-Encoding", bodyEncoding)
	}
	w, err := mixed.CreatePart(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(body); err != nil {
		return nil, err
	}
	for _, a := range m.Attachments {
		w, err := mixed.CreatePart(textproto.MIMEHeader{
			// The name parameter in RFC 2047 words is what older clients (and many in China) read; the
			// disposition's RFC 2231 filename is the standard one.
			"Content-Type":              {a.ContentType + `; name="` + mime.BEncoding.Encode("utf-8", a.Filename) + `"`},
			"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename})},
			"Content-Transfer-Encoding": {"base64"},
		})
		if err != nil {
			return nil, err
		}
		if err := writeBase64Lines(w, a.Data); err != nil {
			return nil, err
		}
	}
	if err := mixed.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// bodyEntity is m's body as one MIME entity: its content type, transfer encoding ("" when the content is
// a multipart whose parts carry their own) and encoded content.
func bodyEntity(m Mail) (contentType, encoding string, content []byte, err error) {
	var b bytes.Buffer
	if m.HTML == "" {
		if err := writeQuotedPrintable(&b, m.Text); err != nil {
			return "", "", nil, err
		}
		return "text/plain; charset=utf-8", "quoted-printable", b.Bytes(), nil
	}
	mw := multipart.NewWriter(&b)
	for _, part := range []struct{ contentType, body string }{
		{"text/plain; charset=utf-8", m.Text},
		{"text/html; charset=utf-8", m.HTML},
	} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.contentType},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return "", "", nil, err
		}
		if err := writeQuotedPrintable(w, part.body); err != nil {
			return "", "", nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return "", "", nil, err
	}
	return mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}), "", b.Bytes(), nil
}

// writeBase64Lines writes data in base64, in lines of 76 characters (RFC 2045).
func writeBase64Lines(w io.Writer, data []byte) error {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 0 {
		n := min(76, len(enc))
		if _, err := io.WriteString(w, enc[:n]+"\r\n"); err != nil {
			return err
		}
		enc = enc[n:]
	}
	return nil
}

func writeQuotedPrintable(w io.Writer, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := io.WriteString(qp, s); err != nil {
		return err
	}
	return qp.Close()
}

// encodeHeader Q-encodes a header value that is not plain ASCII and folds it between the encoded words,
// so a long Chinese subject stays within the line-length limit.
func encodeHeader(s string) string {
	enc := mime.QEncoding.Encode("utf-8", s)
	if enc == s {
		return s
	}
	return strings.ReplaceAll(enc, "?= =?", "?=\r\n =?")
}

// LogMailer is the Mailer used when no SMTP server is configured: it validates the mail and logs the
// number of recipients and the subject, never the addresses or the body, which are personal data. It
// sends nothing.
type LogMailer struct{ Logger *slog.Logger }

// Send logs m instead of sending it. It fails only when m is invalid.
func (l *LogMailer) Send(ctx context.Context, m Mail) error {
	if err := m.Validate(); err != nil {
		return err
	}
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "mail not sent: no SMTP server configured",
		slog.Int("recipients", len(m.To)),
		slog.String("subject", m.Subject),
		slog.Int("attachments", len(m.Attachments)),
	)
	return nil
}
