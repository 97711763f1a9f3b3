package notifications

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DingTalkChannelPrefix begins the outbox channel of a partner's DingTalk robot: "dingtalk:acme".
const DingTalkChannelPrefix = "dingtalk:"

// LogChannel is the outbox channel of a notifier that is not delivered channel by channel (Log): the
// operations' channel when no Slack token is configured.
const LogChannel = "log"

// maxDingTalkMarkdown bounds a rendered message, well under what DingTalk takes.
const maxDingTalkMarkdown = 4000

// PartnerRobot is a partner company's DingTalk robot, as the Notify activity looked it up.
type PartnerRobot struct {
	// Channel names the robot in the outbox: DingTalkChannelPrefix + the partner's id.
	Channel string
	Robot   Robot
	// Err, when set, is why the robot cannot be used (its stored webhook or secret cannot be opened): the
	// channel fails with it for good, and operations are told.
	Err error
}

// PartnerRobotChannel is the outbox channel of partner's DingTalk robot.
func PartnerRobotChannel(partnerID string) string { return DingTalkChannelPrefix + partnerID }

// WithDingTalk returns base with one more channel: the partner's DingTalk robot, when a message names one
// (Message.PartnerRobot), delivered through d. base is Slack, or Log when no Slack token is configured
// (then its one channel is LogChannel).
func WithDingTalk(base Notifier, d *DingTalk) *DingTalkChannels {
	return &DingTalkChannels{base: base, ding: d, delivered: make(map[string]struct{})}
}

// DingTalkChannels is a ChannelNotifier delivering to another notifier's channels and to the partner's
// DingTalk robot. It is safe for concurrent use.
type DingTalkChannels struct {
	base Notifier
	ding *DingTalk

	mu        sync.Mutex
	delivered map[string]struct{} // key + "\x00" + channel, robots only
	order     []string
}

var _ ChannelNotifier = (*DingTalkChannels)(nil)

// Notify delivers m to every channel; a channel that fails does not stop the others, and their errors
// are joined.
func (n *DingTalkChannels) Notify(ctx context.Context, m Message) error {
	var errs []error
	for _, ch := range n.Channels(m) {
		if err := n.NotifyChannel(ctx, m, ch); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Channels is the base notifier's channels, then the partner's robot when m names one.
func (n *DingTalkChannels) Channels(m Message) []string {
	var chs []string
	if cn, ok := n.base.(ChannelNotifier); ok {
		chs = cn.Channels(m)
	} else {
		chs = []string{LogChannel}
	}
	if pr := m.PartnerRobot; pr != nil && pr.Channel != "" {
		chs = append(chs, pr.Channel)
	}
	return chs
}

// NotifyChannel delivers m to one channel: the robot's through DingTalk, others through the base notifier.
func (n *DingTalkChannels) NotifyChannel(ctx context.Context, m Message, channel string) error {
	if pr := m.PartnerRobot; pr != nil && pr.Channel != "" && channel == pr.Channel {
		if m.Key != "" && n.wasDelivered(m.Key, channel) {
			return nil
		}
		if pr.Err != nil {
			return Undeliverable("dingtalk robot unusable: "+pr.Err.Error(), fmt.Errorf("%s: %w", channel, pr.Err))
		}
		title, text := DingTalkMarkdown(m)
		if err := n.ding.Send(ctx, pr.Robot, title, text); err != nil {
			return fmt.Errorf("dingtalk notify %s: %w", channel, err)
		}
		if m.Key != "" {
			n.markDelivered(m.Key, channel)
		}
		return nil
	}
	if cn, ok := n.base.(ChannelNotifier); ok {
		return cn.NotifyChannel(ctx, m, channel)
	}
	if channel == LogChannel {
		return n.base.Notify(ctx, m)
	}
	return fmt.Errorf("notify: unknown channel %q", channel)
}

// Delivered asks the base notifier about its channels. A DingTalk robot cannot be read back, so for a
// robot it answers only from this process's memory: false unless this process delivered m there. The
// outbox then sends an interrupted message again, a repeat rather than a loss. The log never has it.
func (n *DingTalkChannels) Delivered(ctx context.Context, m Message, channel string, since time.Time) (bool, error) {
	if strings.HasPrefix(channel, DingTalkChannelPrefix) {
		return m.Key != "" && n.wasDelivered(m.Key, channel), nil
	}
	if cn, ok := n.base.(ChannelNotifier); ok {
		return cn.Delivered(ctx, m, channel, since)
	}
	return false, nil
}

func (n *DingTalkChannels) wasDelivered(key, channel string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.delivered[key+"\x00"+channel]
	return ok
}

func (n *DingTalkChannels) markDelivered(key, channel string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := key + "\x00" + channel
	if _, ok := n.delivered[k]; ok {
		return
	}
	n.delivered[k] = struct{}{}
	n.order = append(n.order, k)
	if len(n.order) > rememberKeys {
		delete(n.delivered, n.order[0])
		n.order = n.order[1:]
	}
}

// severityLabel is how a severity reads in a DingTalk message.
func (sev Severity) label() string {
	switch sev {
	case SeverityCritical:
		return "critical 严重"
	case SeverityWarning:
		return "warning 警告"
	default:
		return "info 通知"
	}
}

// DingTalkMarkdown renders m for a DingTalk robot: the title (what the group's conversation list shows)
// and the Markdown text — a heading with the severity's emoji and the title, the severity, case and
// service, the text, the fields as a list, and a link to the Temporal Web UI when m has one. It ends
// with "steward", so a robot whose security setting is a custom keyword can be given that word. Text is
// not escaped: DingTalk's Markdown has no escapes, and steward writes the texts (no customer input).
func DingTalkMarkdown(m Message) (title, text string) {
	t := m.Title
	if t == "" {
		t = "Case " + m.CaseID
	}
	title = truncate(m.Severity.emoji()+" "+oneLine(t), maxHeaderLen)
	var b strings.Builder
	b.WriteString("### " + title + "\n\n")
	meta := []string{"**Severity** " + m.Severity.label()}
	if m.CaseID != "" {
		meta = append(meta, "**Case** "+m.CaseID)
	}
	if m.Service != "" {
		meta = append(meta, "**Service** "+m.Service)
	}
	b.WriteString(strings.Join(meta, " · ") + "\n\n")
	if m.Text != "" {
		b.WriteString(truncate(m.Text, maxSectionLen) + "\n\n")
	}
	for _, f := range m.Fields {
		b.WriteString("- **" + oneLine(f.Name) + "**: " + truncate(oneLine(f.Value), maxFieldLen) + "\n")
	}
	if len(m.Fields) > 0 {
		b.WriteString("\n")
	}
	if m.Link != "" {
		b.WriteString("[Open in Temporal UI](" + strings.NewReplacer("(", "%28", ")", "%29", " ", "%20").Replace(m.Link) + ")\n\n")
	}
	const footer = "— steward"
	return title, truncateBytes(b.String(), maxDingTalkMarkdown-len(footer)) + footer
}

// oneLine folds line breaks into spaces, for a title or a list item.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// truncateBytes cuts s to at most n bytes on a rune boundary, ending with an ellipsis when cut.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
