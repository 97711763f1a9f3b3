package activities

import (
	"bytes"
	"fmt"
	"strings"
	texttemplate "text/template"

	"github.com/steward-oss/steward/sla"
)

// customerTemplates are the messages to a case's customer, one block per workflows.Notice. A block's
// first line is the message's title; the rest is its Markdown body. They are written in Chinese, for the
// customer's DingTalk group and e-mail.
var customerTemplates = texttemplate.Must(texttemplate.New("customer.md.tmpl").Option("missingkey=error").
	ParseFS(templateFS, "templates/customer.md.tmpl"))

// CustomerData is what a customer message renders from: the order and service every message names, and
// the notice's own arguments.
type CustomerData struct {
	OrderID string
	Service string
	Spec    string
	Args    map[string]string
}

// ServiceName is the service's Chinese name, with the spec's when it has one.
func (d CustomerData) ServiceName() string {
	name := sla.ServiceTitle(d.Service)
	if d.Spec != "" {
		if t := sla.SpecTitle(d.Spec); t != d.Spec {
			name += "（" + t + "）"
		}
	}
	return name
}

// Arg is the notice's argument name, or an error naming it when the case did not give it.
func (d CustomerData) Arg(name string) (string, error) {
	v, ok := d.Args[name]
	if !ok {
		return "", fmt.Errorf("argument %q missing", name)
	}
	return v, nil
}

// Has reports whether the notice carries the argument name, non-empty.
func (d CustomerData) Has(name string) bool { return d.Args[name] != "" }

// RenderCustomer renders the customer message kind (a workflows.Notice) for d: its title and Markdown
// text, which ends with the order number.
func RenderCustomer(kind string, d CustomerData) (title, text string, err error) {
	if customerTemplates.Lookup(kind) == nil {
		return "", "", fmt.Errorf("customer message %q: no template", kind)
	}
	var b bytes.Buffer
	if err := customerTemplates.ExecuteTemplate(&b, kind, d); err != nil {
		return "", "", fmt.Errorf("customer message %q: %w", kind, err)
	}
	title, body, _ := strings.Cut(strings.TrimSpace(b.String()), "\n")
	title, body = strings.TrimSpace(title), strings.TrimSpace(body)
	text = "### " + title + "\n\n" + body + "\n\n" + "> " + d.ServiceName() + " · 订单号 " + d.OrderID
	return title, text, nil
}
