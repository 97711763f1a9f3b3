package notifications_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/notifications"
)

// smtpSession is what the fake SMTP server saw on one connection.
type smtpSession struct {
	TLS  bool
	Helo []string
	Auth string // decoded AUTH PLAIN response: identity NUL username NUL password
	From string
	To   []string
	Data string // the message as sent, CRLF line endings, dots unstuffed
}

// fakeSMTP is an in-process SMTP server speaking just enough of the protocol for SMTP.Send.
type fakeSMTP struct {
	// TLS, when set, makes the server offer STARTTLS with this configuration.
	TLS *tls.Config
	// Auth makes the server offer AUTH PLAIN.
	Auth bool
	// RejectRcpt is a recipient answered with RcptReply, "550 5.1.1 no such user" when empty.
	RejectRcpt string
	RcptReply  string
	// MailReply, when set, answers MAIL FROM; DataReply answers the end of the message.
	MailReply, DataReply string
	// Silent makes the server accept connections and never say a word.
	Silent bool

	addr     string
	sessions chan smtpSession
}

func startSMTP(t *testing.T, f *fakeSMTP) *fakeSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f.addr = ln.Addr().String()
	f.sessions = make(chan smtpSession, 16)
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		_ = ln.Close()
	})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			if f.Silent {
				go func() {
					<-done
					_ = conn.Close()
				}()
				continue
			}
			go f.serve(conn)
		}
	}()
	return f
}

// session returns the next finished session.
func (f *fakeSMTP) session(t *testing.T) smtpSession {
	t.Helper()
	select {
	case s := <-f.sessions:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no SMTP session")
		return smtpSession{}
	}
}

func (f *fakeSMTP) serve(conn net.Conn) {
	var s smtpSession
	defer func() {
		_ = conn.Close()
		f.sessions <- s
	}()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	reply := func(lines ...string) {
		for i, l := range lines {
			sep := "-"
			if i == len(lines)-1 {
				sep = " "
			}
			_, _ = fmt.Fprintf(conn, "%s%s%s\r\n", l[:3], sep, l[4:])
		}
	}
	readLine := func() (string, bool) {
		line, err := r.ReadString('\n')
		return strings.TrimSuffix(line, "\r\n"), err == nil
	}
	reply("220 fake.test ESMTP")
	for {
		line, ok := readLine()
		if !ok {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			s.Helo = append(s.Helo, arg)
			ext := []string{"250 fake.test", "250 8BITMIME"}
			if f.TLS != nil && !s.TLS {
				ext = append(ext, "250 STARTTLS")
			}
			if f.Auth {
				ext = append(ext, "250 AUTH PLAIN")
			}
			reply(ext...)
		case "STARTTLS":
			reply("220 2.0.0 ready")
			tc := tls.Server(conn, f.TLS)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, r, s.TLS = tc, bufio.NewReader(tc), true
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			if mech != "PLAIN" {
				reply("504 5.5.4 unrecognized mechanism")
				continue
			}
			if resp == "" {
				reply("334 ")
				if resp, ok = readLine(); !ok {
					return
				}
			}
			b, err := base64.StdEncoding.DecodeString(resp)
			if err != nil {
				reply("501 5.5.2 bad base64")
				continue
			}
			s.Auth = string(b)
			reply("235 2.7.0 authenticated")
		case "MAIL":
			if f.MailReply != "" {
				reply(f.MailReply)
				continue
			}
			s.From = angle(arg)
			reply("250 2.1.0 ok")
		case "RCPT":
			if to := angle(arg); to == f.RejectRcpt {
				if f.RcptReply != "" {
					reply(f.RcptReply)
				} else {
					reply("550 5.1.1 no such user")
				}
			} else {
				s.To = append(s.To, to)
				reply("250 2.1.5 ok")
			}
		case "DATA":
			reply("354 end with <CRLF>.<CRLF>")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			if f.DataReply != "" {
				reply(f.DataReply)
				continue
			}
			s.Data = data.String()
			reply("250 2.0.0 queued")
		case "RSET", "NOOP":
			reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply("502 5.5.2 not implemented")
		}
	}
}

// angle returns the address between < and > in a MAIL or RCPT argument.
func angle(arg string) string {
	_, rest, _ := strings.Cut(arg, "<")
	addr, _, _ := strings.Cut(rest, ">")
	return addr
}

// testTLS returns a server configuration with a self-signed certificate for 127.0.0.1, and a client
// configuration that trusts it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fake smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

const chineseSubject = "【紧急】SOS 应急响应案件 sos:O1 已超时，请立即处理专业版报告已生成并附上处置建议与整改清单"

func TestSMTPSendsAlternatives(t *testing.T) {
	srv := startSMTP(t, &fakeSMTP{Auth: true})
	s := &notifications.SMTP{Addr: srv.addr, From: "Steward 服务台 <noreply@steward.test>", Username: "steward", Password: "s3cret"}
	m := notifications.Mail{
		To:      []string{"张三 <zhang@example.com>", "ops@example.com"},
		Subject: chineseSubject,
		Text:    "您好，\n\n报告已生成。\n.\n一行很长的文字" + strings.Repeat("很长", 60) + "\n",
		HTML:    "<p>您好，</p>\n<p>报告已<b>生成</b>。</p>\n",
	}
	before := time.Now().Truncate(time.Second)
	require.NoError(t, s.Send(context.Background(), m))

	got := srv.session(t)
	assert.Equal(t, "\x00steward\x00s3cret", got.Auth)
	assert.Equal(t, "noreply@steward.test", got.From)
	assert.Equal(t, []string{"zhang@example.com", "ops@example.com"}, got.To)
	for i, l := range strings.SplitAfter(got.Data, "\n") {
		if l == "" {
			continue
		}
		assert.True(t, strings.HasSuffix(l, "\r\n"), "line %d %q does not end in CRLF", i, l)
		assert.LessOrEqual(t, len(l), 1000, "line %d is too long", i)
		for _, r := range l {
			assert.Less(t, r, rune(128), "line %d is not 7-bit: %q", i, l)
		}
	}

	msg, err := mail.ReadMessage(strings.NewReader(got.Data))
	require.NoError(t, err)
	h := msg.Header
	from, err := h.AddressList("From")
	require.NoError(t, err)
	assert.Equal(t, []*mail.Address{{Name: "Steward 服务台", Address: "noreply@steward.test"}}, from)
	to, err := h.AddressList("To")
	require.NoError(t, err)
	assert.Equal(t, []*mail.Address{{Name: "张三", Address: "zhang@example.com"}, {Address: "ops@example.com"}}, to)
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	require.NoError(t, err)
	assert.Equal(t, chineseSubject, subject)
	date, err := h.Date()
	require.NoError(t, err)
	assert.WithinRange(t, date, before, time.Now())
	assert.Regexp(t, regexp.MustCompile(`^<[a-z0-9]+@steward>$`), h.Get("Message-ID"))
	assert.Equal(t, "1.0", h.Get("MIME-Version"))

	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mediaType)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for _, want := range []struct{ contentType, body string }{
		{"text/plain; charset=utf-8", m.Text},
		{"text/html; charset=utf-8", m.HTML},
	} {
		p, err := mr.NextRawPart()
		require.NoError(t, err)
		assert.Equal(t, want.contentType, p.Header.Get("Content-Type"))
		assert.Equal(t, "quoted-printable", p.Header.Get("Content-Transfer-Encoding"))
		body, err := io.ReadAll(quotedprintable.NewReader(p))
		require.NoError(t, err)
		assert.Equal(t, want.body, strings.ReplaceAll(string(body), "\r\n", "\n"))
	}
	_, err = mr.NextRawPart()
	assert.ErrorIs(t, err, io.EOF)
}

// TestSMTPSendsAttachments sends a report as the professional edition does: text and HTML alternatives,
// then a PDF under a Chinese file name. The message is multipart/mixed, 7-bit, in short lines; the file
// name reads back from both the RFC 2231 filename and the RFC 2047 name; the content is byte for byte.
func TestSMTPSendsAttachments(t *testing.T) {
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0, 0xff, '\r', '\n', 'x'}, 300)...)
	tests := []struct {
		name string
		html string
	}{
		{"text and html", "<p>您好，报告见附件。</p>"},
		{"text only", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, &fakeSMTP{})
			s := &notifications.SMTP{Addr: srv.addr, From: "noreply@steward.test"}
			m := notifications.Mail{
				To: []string{"zhang@example.com"}, Subject: "安全管家服务报告 2026-05 — butler:O9", Text: "您好，报告见附件。\n", HTML: tt.html,
				Attachments: []notifications.Attachment{
					{Filename: "安全管家服务报告 — butler:O9 v3.pdf", ContentType: "application/pdf", Data: pdf},
					{Filename: "readme.txt", ContentType: "text/plain", Data: []byte("second file")},
				},
			}
			require.NoError(t, s.Send(context.Background(), m))
			got := srv.session(t)
			for i, l := range strings.SplitAfter(got.Data, "\n") {
				if l == "" {
					continue
				}
				assert.True(t, strings.HasSuffix(l, "\r\n"), "line %d %q does not end in CRLF", i, l)
				assert.LessOrEqual(t, len(l), 1000, "line %d is too long", i)
				for _, r := range l {
					assert.Less(t, r, rune(128), "line %d is not 7-bit: %q", i, l)
				}
			}

			msg, err := mail.ReadMessage(strings.NewReader(got.Data))
			require.NoError(t, err)
			mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
			require.NoError(t, err)
			require.Equal(t, "multipart/mixed", mediaType)
			mr := multipart.NewReader(msg.Body, params["boundary"])

			body, err := mr.NextRawPart()
			require.NoError(t, err)
			bodyType, bodyParams, err := mime.ParseMediaType(body.Header.Get("Content-Type"))
			require.NoError(t, err)
			if tt.html == "" {
				assert.Equal(t, "text/plain", bodyType)
				assert.Equal(t, "quoted-printable", body.Header.Get("Content-Transfer-Encoding"))
				text, err := io.ReadAll(quotedprintable.NewReader(body))
				require.NoError(t, err)
				assert.Equal(t, m.Text, strings.ReplaceAll(string(text), "\r\n", "\n"))
			} else {
				require.Equal(t, "multipart/alternative", bodyType)
				alt := multipart.NewReader(body, bodyParams["boundary"])
				for _, want := range []struct{ contentType, body string }{
					{"text/plain; charset=utf-8", m.Text},
					{"text/html; charset=utf-8", m.HTML},
				} {
					p, err := alt.NextRawPart()
					require.NoError(t, err)
					assert.Equal(t, want.contentType, p.Header.Get("Content-Type"))
					text, err := io.ReadAll(quotedprintable.NewReader(p))
					require.NoError(t, err)
					assert.Equal(t, want.body, strings.ReplaceAll(string(text), "\r\n", "\n"))
				}
				_, err = alt.NextRawPart()
				assert.ErrorIs(t, err, io.EOF)
			}

			for _, want := range m.Attachments {
				p, err := mr.NextRawPart()
				require.NoError(t, err)
				ct, ctParams, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
				require.NoError(t, err)
				assert.Equal(t, want.ContentType, ct)
				name, err := new(mime.WordDecoder).DecodeHeader(ctParams["name"])
				require.NoError(t, err)
				assert.Equal(t, want.Filename, name, "Content-Type name")
				disp, dispParams, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
				require.NoError(t, err)
				assert.Equal(t, "attachment", disp)
				assert.Equal(t, want.Filename, dispParams["filename"], "Content-Disposition filename")
				assert.Equal(t, "base64", p.Header.Get("Content-Transfer-Encoding"))
				raw, err := io.ReadAll(p)
				require.NoError(t, err)
				for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\r\n"), "\r\n") {
					assert.LessOrEqual(t, len(l), 76, "base64 line")
				}
				data, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(raw), "\r\n", ""))
				require.NoError(t, err)
				assert.Equal(t, want.Data, data)
			}
			_, err = mr.NextRawPart()
			assert.ErrorIs(t, err, io.EOF)
		})
	}
}

func TestSMTPSendsPlainText(t *testing.T) {
	srv := startSMTP(t, &fakeSMTP{})
	s := &notifications.SMTP{Addr: srv.addr, From: "noreply@steward.test"}
	m := notifications.Mail{To: []string{"a@example.com"}, Subject: "Report ready", Text: "第一行\n第二行\n"}
	require.NoError(t, s.Send(context.Background(), m))

	got := srv.session(t)
	assert.Empty(t, got.Auth, "no AUTH without a username")
	msg, err := mail.ReadMessage(strings.NewReader(got.Data))
	require.NoError(t, err)
	assert.Equal(t, "Report ready", msg.Header.Get("Subject"))
	assert.Equal(t, "text/plain; charset=utf-8", msg.Header.Get("Content-Type"))
	assert.Equal(t, "quoted-printable", msg.Header.Get("Content-Transfer-Encoding"))
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	require.NoError(t, err)
	assert.Equal(t, m.Text, strings.ReplaceAll(string(body), "\r\n", "\n"))
}

func TestSMTPStartTLS(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	tests := []struct {
		name      string
		offer     bool
		require   bool
		clientTLS *tls.Config
		wantTLS   bool
		wantErr   string
	}{
		{name: "used when offered", offer: true, clientTLS: clientTLS, wantTLS: true},
		{name: "required and offered", offer: true, require: true, clientTLS: clientTLS, wantTLS: true},
		{name: "plain when not offered", offer: false},
		{name: "required but not offered", offer: false, require: true, wantErr: "does not offer STARTTLS"},
		{name: "untrusted certificate is no downgrade", offer: true, clientTLS: nil, wantErr: "smtp starttls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSMTP{Auth: true}
			if tt.offer {
				f.TLS = serverTLS
			}
			srv := startSMTP(t, f)
			s := &notifications.SMTP{
				Addr: srv.addr, From: "noreply@steward.test", Username: "u", Password: "p",
				StartTLS: tt.require, TLSConfig: tt.clientTLS, Timeout: 5 * time.Second,
			}
			err := s.Send(context.Background(), notifications.Mail{To: []string{"a@example.com"}, Subject: "s", Text: "t"})
			got := srv.session(t)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.Empty(t, got.From, "no MAIL after a TLS failure")
				assert.Empty(t, got.Auth, "no credentials after a TLS failure")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantTLS, got.TLS)
			assert.Equal(t, "\x00u\x00p", got.Auth)
			if tt.wantTLS {
				assert.Len(t, got.Helo, 2, "EHLO again after STARTTLS")
			}
			assert.NotEmpty(t, got.Data)
		})
	}
}

func TestSMTPRejectedRecipient(t *testing.T) {
	srv := startSMTP(t, &fakeSMTP{RejectRcpt: "gone@example.com"})
	s := &notifications.SMTP{Addr: srv.addr, From: "noreply@steward.test"}
	err := s.Send(context.Background(), notifications.Mail{
		To: []string{"a@example.com", "gone@example.com", "b@example.com"}, Subject: "s", Text: "t",
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, notifications.ErrRejected)
	assert.ErrorContains(t, err, "recipient 2 of 3")
	assert.NotContains(t, err.Error(), "gone@example.com", "the refused recipient is named by position")
	assert.ErrorContains(t, err, "550")
	got := srv.session(t)
	assert.Empty(t, got.Data, "no message after a refused recipient")
}

// TestSMTPRefusals: a 5xx reply to RCPT or DATA is Permanent and ErrRejected, its reason naming what was
// refused without the address; a refused sender, a 4xx reply or a connection that fails stays temporary.
func TestSMTPRefusals(t *testing.T) {
	tests := []struct {
		name       string
		smtp       fakeSMTP
		permanent  bool
		wantReason string
	}{
		{"recipient refused", fakeSMTP{RejectRcpt: "gone@example.com"}, true, "smtp recipient 2 of 3 refused: 550 5.1.1 no such user"},
		{"recipient refused, address echoed", fakeSMTP{RejectRcpt: "gone@example.com", RcptReply: "550 5.1.1 <gone@example.com>: Recipient address rejected"},
			true, "smtp recipient 2 of 3 refused: 550 5.1.1 <[address]>: Recipient address rejected"},
		// Our own sender refused is configuration an operator fixes: retried, not given up.
		{"sender refused", fakeSMTP{MailReply: "553 5.7.1 <noreply@steward.test>: Sender address rejected"}, false, ""},
		{"message refused", fakeSMTP{DataReply: "554 5.6.0 message content rejected"}, true, "smtp message refused: 554 5.6.0 message content rejected"},
		{"recipient busy", fakeSMTP{RejectRcpt: "gone@example.com", RcptReply: "450 4.2.1 mailbox busy"}, false, ""},
		{"sender deferred", fakeSMTP{MailReply: "451 4.3.0 try again later"}, false, ""},
		{"message deferred", fakeSMTP{DataReply: "452 4.3.1 insufficient storage"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.smtp
			srv := startSMTP(t, &f)
			s := &notifications.SMTP{Addr: srv.addr, From: "noreply@steward.test", Timeout: 5 * time.Second}
			err := s.Send(context.Background(), notifications.Mail{
				To: []string{"a@example.com", "gone@example.com", "b@example.com"}, Subject: "s", Text: "t",
			})
			require.Error(t, err)
			assert.Equal(t, tt.permanent, notifications.Permanent(err), "Permanent(%v)", err)
			assert.Equal(t, tt.permanent, errors.Is(err, notifications.ErrRejected), "errors.Is(%v, ErrRejected)", err)
			if tt.permanent {
				assert.Equal(t, tt.wantReason, notifications.Reason(err))
			}
		})
	}
	t.Run("no server", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		err = (&notifications.SMTP{Addr: addr, From: "noreply@steward.test"}).Send(context.Background(),
			notifications.Mail{To: []string{"a@example.com"}, Subject: "s", Text: "t"})
		require.Error(t, err)
		assert.False(t, notifications.Permanent(err), "a refused connection is temporary")
	})
}

func TestSMTPRefusesInvalidMail(t *testing.T) {
	// Nothing listens on addr: an error other than ErrInvalidMail would mean Send tried to connect.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	valid := notifications.Mail{To: []string{"a@example.com"}, Subject: "s", Text: "t"}
	tests := []struct {
		name string
		from string
		edit func(*notifications.Mail)
		want string
	}{
		{"no recipients", "", func(m *notifications.Mail) { m.To = nil }, "no recipients"},
		{"bad recipient", "", func(m *notifications.Mail) { m.To = []string{"a@example.com", "not an address"} }, "recipient 2"},
		{"recipient injection", "", func(m *notifications.Mail) { m.To = []string{"a@example.com\r\nBcc: x@evil.test"} }, "control character"},
		{"display name injection", "", func(m *notifications.Mail) { m.To = []string{"A\nBcc: x@evil.test <a@example.com>"} }, "control character"},
		{"non-ASCII address", "", func(m *notifications.Mail) { m.To = []string{"张三@example.com"} }, "non-ASCII"},
		{"subject injection", "", func(m *notifications.Mail) { m.Subject = "报告\r\nBcc: x@evil.test" }, "subject contains"},
		{"empty subject", "", func(m *notifications.Mail) { m.Subject = "  " }, "empty subject"},
		{"empty body", "", func(m *notifications.Mail) { m.Text = "" }, "empty body"},
		{"sender injection", "noreply@steward.test\r\nBcc: x@evil.test", func(*notifications.Mail) {}, "sender"},
		{"bad sender", "steward", func(*notifications.Mail) {}, "sender"},
		{"attachment without a name", "", func(m *notifications.Mail) {
			m.Attachments = []notifications.Attachment{{ContentType: "application/pdf", Data: []byte("%PDF")}}
		}, "attachment 1: file name"},
		{"attachment name injection", "", func(m *notifications.Mail) {
			m.Attachments = []notifications.Attachment{{Filename: "a.pdf\r\nBcc: x@evil.test", ContentType: "application/pdf", Data: []byte("%PDF")}}
		}, "control character"},
		{"attachment name with a path", "", func(m *notifications.Mail) {
			m.Attachments = []notifications.Attachment{{Filename: "../etc/报告.pdf", ContentType: "application/pdf", Data: []byte("%PDF")}}
		}, "path separator"},
		{"attachment type injection", "", func(m *notifications.Mail) {
			m.Attachments = []notifications.Attachment{{Filename: "a.pdf", ContentType: "application/pdf\r\nBcc: x@evil.test", Data: []byte("%PDF")}}
		}, "content type"},
		{"attachment type with parameters", "", func(m *notifications.Mail) {
			m.Attachments = []notifications.Attachment{{Filename: "a.pdf", ContentType: `application/pdf; name="b.exe"`, Data: []byte("%PDF")}}
		}, "content type"},
		{"empty attachment", "", func(m *notifications.Mail) {
			m.Attachments = []notifications.Attachment{{Filename: "a.pdf", ContentType: "application/pdf"}}
		}, "no content"},
		{"attachments too large", "", func(m *notifications.Mail) {
			m.Attachments = []notifications.Attachment{{Filename: "a.pdf", ContentType: "application/pdf", Data: make([]byte, notifications.MaxAttachmentBytes+1)}}
		}, "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid
			tt.edit(&m)
			from := tt.from
			if from == "" {
				from = "noreply@steward.test"
			}
			s := &notifications.SMTP{Addr: addr, From: from}
			err := s.Send(context.Background(), m)
			require.ErrorIs(t, err, notifications.ErrInvalidMail)
			assert.ErrorContains(t, err, tt.want)
			assert.True(t, notifications.Permanent(err), "invalid mail never goes out")
		})
	}
}

func TestSMTPTimesOut(t *testing.T) {
	srv := startSMTP(t, &fakeSMTP{Silent: true})
	m := notifications.Mail{To: []string{"a@example.com"}, Subject: "s", Text: "t"}

	t.Run("ctx", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := (&notifications.SMTP{Addr: srv.addr, From: "noreply@steward.test"}).Send(ctx, m)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 3*time.Second)
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		err := (&notifications.SMTP{Addr: srv.addr, From: "noreply@steward.test"}).Send(ctx, m)
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("Timeout", func(t *testing.T) {
		start := time.Now()
		err := (&notifications.SMTP{Addr: srv.addr, From: "noreply@steward.test", Timeout: 200 * time.Millisecond}).Send(context.Background(), m)
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		assert.Less(t, time.Since(start), 3*time.Second)
	})
}

func TestLogMailerLogsNoPersonalData(t *testing.T) {
	var buf bytes.Buffer
	l := &notifications.LogMailer{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	m := notifications.Mail{To: []string{"张三 <zhang@example.com>", "ops@example.com"}, Subject: chineseSubject, Text: "身份证号 110101", HTML: "<p>手机 138</p>"}
	require.NoError(t, l.Send(context.Background(), m))
	out := buf.String()
	assert.Contains(t, out, `"recipients":2`)
	assert.Contains(t, out, chineseSubject)
	for _, secret := range []string{"zhang@example.com", "张三", "ops@example.com", "110101", "138"} {
		assert.NotContains(t, out, secret)
	}

	m.Subject = "a\nb"
	assert.True(t, errors.Is(l.Send(context.Background(), m), notifications.ErrInvalidMail))
}
