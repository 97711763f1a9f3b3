package notifications

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackutilsx"
)

// DefaultMaxRetries is how many times Slack re-sends a rate-limited message before giving up.
const DefaultMaxRetries = 3

// maxRetryAfter caps a single rate-limit wait, so a bogus Retry-After cannot park an activity.
const maxRetryAfter = time.Minute

// Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
const (
	maxHeaderLen   = 150
	maxSectionLen  = 3000
	maxFieldLen    = 2000
	maxFieldsPerSn = 10
	maxFallbackLen = 4000
)

// rememberKeys bounds the in-memory set of delivered (key, channel) pairs.
const rememberKeys = 10_000

// Slack posts notifications to Slack with Block Kit: to the partner's channel when the message
// names one, and always to the operations channel. It is safe for concurrent use.
type Slack struct {
	client     *slack.Client
	opsChannel string

	// MaxRetries bounds re-sends after a rate limit (429); zero means DefaultMaxRetries.
	MaxRetries int

	mu        sync.Mutex
	delivered map[string]struct{}
	order     []string
	// blockedUntil is when Slack's last rate limit ends: every post waits for it, not only the one
	// that was refused, so concurrent activities don't keep hammering a limited workspace.
	blockedUntil time.Time
	channelIDs   map[string]string // channel name → ID, for history look-ups
}

// MetadataEventType names the message metadata every post carries; its payload holds the
// notification key and case ID, so a Slack app (or an audit) can tie a message to its outbox row.
const MetadataEventType = "steward_notification"

// NewSlack returns a Slack notifier with a bot token and the operations channel (name or id).
// opts go to slack.New; tests pass slack.OptionAPIURL(server URL + "/").
func NewSlack(token, opsChannel string, opts ...slack.Option) *Slack {
	return &Slack{
		client:     slack.New(token, opts...),
		opsChannel: opsChannel,
		delivered:  make(map[string]struct{}),
		channelIDs: make(map[string]string),
	}
}

// Notify posts m to m.PartnerChannel (when set and not the ops channel) and to the ops channel.
// Rate limits are waited out (respecting ctx) and retried a bounded number of times; other errors
// are returned. A channel that failed does not stop the other; errors of both are joined. When
// m.Key is set, a channel that already received the key (say, before an activity retry) is skipped.
func (s *Slack) Notify(ctx context.Context, m Message) error {
	if s.opsChannel == "" {
		return errors.New("slack notify: no ops channel")
	}
	var errs []error
	for _, ch := range s.Channels(m) {
		if err := s.NotifyChannel(ctx, m, ch); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Channels is the partner's channel (when set and not the ops channel), then the ops channel.
func (s *Slack) Channels(m Message) []string {
	if m.PartnerChannel != "" && m.PartnerChannel != s.opsChannel {
		return []string{m.PartnerChannel, s.opsChannel}
	}
	return []string{s.opsChannel}
}

// NotifyChannel posts m to channel, unless this process already delivered m.Key there. A refusal that no
// retry can fix (the channel does not exist, the bot is not in it, the token is revoked) is Permanent.
func (s *Slack) NotifyChannel(ctx context.Context, m Message, channel string) error {
	if channel == "" {
		return errors.New("slack notify: no channel")
	}
	if m.Key != "" && s.wasDelivered(m.Key, channel) {
		return nil
	}
	if err := s.post(ctx, channel, FallbackText(m), Blocks(m), metadata(m)); err != nil {
		return fmt.Errorf("slack notify %s: %w", channel, classify(err))
	}
	if m.Key != "" {
		s.markDelivered(m.Key, channel)
	}
	return nil
}

// permanentSlackErrors are the Slack API error codes of a post that no retry fixes: the channel, the token
// or the message itself is wrong, and stays wrong until someone changes it. Any other code (internal_error,
// fatal_error, service_unavailable, request_timeout, …) is taken as temporary, as are rate limits and HTTP
// errors. https://api.slack.com/methods/chat.postMessage#errors
var permanentSlackErrors = map[string]bool{
	// The channel.
	"channel_not_found": true, "not_in_channel": true, "is_archived": true, "channel_is_archived": true,
	"duplicate_channel_not_found": true, "restricted_action": true, "restricted_action_read_only_channel": true,
	"restricted_action_thread_only_channel": true, "restricted_action_non_threadable_channel": true,
	"user_not_found": true, "cannot_dm_bot": true,
	// The token and the workspace.
	"invalid_auth": true, "not_authed": true, "account_inactive": true, "token_revoked": true,
	"token_expired": true, "no_permission": true, "missing_scope": true, "not_allowed_token_type": true,
	"org_login_required": true, "ekm_access_denied": true, "team_access_not_granted": true,
	"enterprise_is_restricted": true, "two_factor_setup_required": true, "access_denied": true,
	// The message.
	"msg_too_long": true, "no_text": true, "too_many_attachments": true, "invalid_blocks": true,
	"invalid_blocks_format": true, "invalid_metadata_format": true, "invalid_metadata_schema": true,
	"metadata_too_large": true, "metadata_must_be_sent_from_app": true, "invalid_arguments": true,
	"invalid_arg_name": true, "invalid_charset": true, "invalid_form_data": true, "invalid_post_type": true,
	"missing_post_type": true, "as_user_not_supported": true, "method_deprecated": true, "deprecated_endpoint": true,
}

// classify marks a Slack API refusal that no retry fixes as Permanent, its code the reason.
func classify(err error) error {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && permanentSlackErrors[se.Err] {
		return Undeliverable("slack "+se.Err, err)
	}
	return err
}

// historyPages bounds how far back Delivered reads a channel (pages of historyPageSize messages).
const (
	historyPages    = 5
	historyPageSize = 200
)

// Delivered looks in channel's history, from a minute before since, for a message whose metadata carries
// m.Key. A channel given by name ("#ops") is first resolved to its ID, which conversations.history needs.
func (s *Slack) Delivered(ctx context.Context, m Message, channel string, since time.Time) (bool, error) {
	if m.Key == "" {
		return false, errors.New("slack delivered: message without key")
	}
	id, err := s.channelID(ctx, channel)
	if err != nil {
		return false, err
	}
	params := &slack.GetConversationHistoryParameters{
		ChannelID: id, Oldest: fmt.Sprintf("%d.000000", since.Add(-time.Minute).Unix()),
		Limit: historyPageSize, IncludeAllMetadata: true,
	}
	for range historyPages {
		if err := s.waitRateLimit(ctx); err != nil {
			return false, err
		}
		res, err := s.client.GetConversationHistoryContext(ctx, params)
		if err != nil {
			var rl *slack.RateLimitedError
			if errors.As(err, &rl) {
				s.limitedFor(min(max(rl.RetryAfter, time.Second), maxRetryAfter))
			}
			return false, fmt.Errorf("slack history of %s: %w", channel, err)
		}
		for _, msg := range res.Messages {
			if msg.Metadata.EventType == MetadataEventType && msg.Metadata.EventPayload["key"] == m.Key {
				s.markDelivered(m.Key, channel)
				return true, nil
			}
		}
		if !res.HasMore || res.ResponseMetaData.NextCursor == "" {
			return false, nil
		}
		params.Cursor = res.ResponseMetaData.NextCursor
	}
	return false, nil
}

// channelIDPattern is the shape of a Slack conversation ID (public, private, direct).
var channelIDPattern = regexp.MustCompile(`^[CGD][A-Z0-9]+$`) // channel names are lower case

// channelID returns the ID of a channel given by ID or by name ("#ops" or "ops"), looking names up with
// conversations.list once and remembering them.
func (s *Slack) channelID(ctx context.Context, channel string) (string, error) {
	if channelIDPattern.MatchString(channel) {
		return channel, nil
	}
	name := strings.TrimPrefix(channel, "#")
	s.mu.Lock()
	id, ok := s.channelIDs[name]
	s.mu.Unlock()
	if ok {
		return id, nil
	}
	params := &slack.GetConversationsParameters{Types: []string{"public_channel", "private_channel"}, Limit: 1000, ExcludeArchived: true}
	for {
		if err := s.waitRateLimit(ctx); err != nil {
			return "", err
		}
		chans, cursor, err := s.client.GetConversationsContext(ctx, params)
		if err != nil {
			return "", fmt.Errorf("slack channel %s: %w", channel, err)
		}
		for _, c := range chans {
			if c.Name == name {
				s.mu.Lock()
				s.channelIDs[name] = c.ID
				s.mu.Unlock()
				return c.ID, nil
			}
		}
		if cursor == "" {
			return "", fmt.Errorf("slack channel %s: not found among the bot's channels", channel)
		}
		params.Cursor = cursor
	}
}

func metadata(m Message) slack.SlackMetadata {
	return slack.SlackMetadata{EventType: MetadataEventType, EventPayload: map[string]any{"key": m.Key, "case_id": m.CaseID}}
}

func (s *Slack) post(ctx context.Context, channel, fallback string, blocks []slack.Block, meta slack.SlackMetadata) error {
	retries := s.MaxRetries
	if retries <= 0 {
		retries = DefaultMaxRetries
	}
	for attempt := 0; ; attempt++ {
		if err := s.waitRateLimit(ctx); err != nil {
			return err
		}
		_, _, err := s.client.PostMessageContext(ctx, channel,
			slack.MsgOptionText(fallback, false),
			slack.MsgOptionBlocks(blocks...),
			slack.MsgOptionMetadata(meta),
		)
		var rl *slack.RateLimitedError
		if err == nil || !errors.As(err, &rl) {
			return err
		}
		s.limitedFor(min(max(rl.RetryAfter, time.Second), maxRetryAfter))
		if attempt >= retries {
			return err
		}
	}
}

// limitedFor records a rate limit of d from now; a longer one already in force stays.
func (s *Slack) limitedFor(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if until := time.Now().Add(d); until.After(s.blockedUntil) {
		s.blockedUntil = until
	}
}

// waitRateLimit waits until the last rate limit has passed, or ctx ends.
func (s *Slack) waitRateLimit(ctx context.Context) error {
	s.mu.Lock()
	wait := time.Until(s.blockedUntil)
	s.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("waiting out rate limit: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

func (s *Slack) wasDelivered(key, channel string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.delivered[key+"\x00"+channel]
	return ok
}

func (s *Slack) markDelivered(key, channel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key + "\x00" + channel
	if _, ok := s.delivered[k]; ok {
		return
	}
	s.delivered[k] = struct{}{}
	s.order = append(s.order, k)
	if len(s.order) > rememberKeys {
		delete(s.delivered, s.order[0])
		s.order = s.order[1:]
	}
}

// emoji returns the severity's emoji; unknown severities read as info.
func (sev Severity) emoji() string {
	switch sev {
	case SeverityCritical:
		return "🚨"
	case SeverityWarning:
		return "⚠️"
	default:
		return "ℹ️"
	}
}

// Blocks renders m as Block Kit: a header with the severity emoji and title, the text, the fields
// (in sections of at most ten), a context line with case id and service, and an "Open in Temporal
// UI" button when m.Link is set. User-supplied text is escaped for mrkdwn and cut to Slack's limits.
func Blocks(m Message) []slack.Block {
	title := m.Title
	if title == "" {
		title = "Case " + m.CaseID
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType,
			truncate(m.Severity.emoji()+" "+title, maxHeaderLen), true, false)),
	}
	if m.Text != "" {
		blocks = append(blocks, slack.NewSectionBlock(
			slack.NewTextBlockObject(slack.MarkdownType, truncate(escape(m.Text), maxSectionLen), false, false), nil, nil))
	}
	for chunk := range slices.Chunk(m.Fields, maxFieldsPerSn) {
		fields := make([]*slack.TextBlockObject, 0, len(chunk))
		for _, f := range chunk {
			fields = append(fields, slack.NewTextBlockObject(slack.MarkdownType,
				truncate("*"+escape(f.Name)+"*\n"+escape(f.Value), maxFieldLen), false, false))
		}
		blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
	}
	var ctxParts []string
	if m.CaseID != "" {
		ctxParts = append(ctxParts, "Case `"+escape(m.CaseID)+"`")
	}
	if m.Service != "" {
		ctxParts = append(ctxParts, "service "+escape(m.Service))
	}
	if m.Severity != "" {
		ctxParts = append(ctxParts, "severity "+escape(string(m.Severity)))
	}
	if len(ctxParts) > 0 {
		blocks = append(blocks, slack.NewContextBlock("",
			slack.NewTextBlockObject(slack.MarkdownType, strings.Join(ctxParts, " · "), false, false)))
	}
	if m.Link != "" {
		btn := slack.NewButtonBlockElement("open_temporal_ui", m.WorkflowID,
			slack.NewTextBlockObject(slack.PlainTextType, "Open in Temporal UI", false, false)).WithURL(m.Link)
		blocks = append(blocks, slack.NewActionBlock("", btn))
	}
	return blocks
}

// FallbackText is the plain text Slack shows in notifications and to clients without Block Kit.
func FallbackText(m Message) string {
	var b strings.Builder
	b.WriteString(m.Severity.emoji())
	b.WriteString(" ")
	b.WriteString(m.Title)
	if m.CaseID != "" {
		b.WriteString(" (case " + m.CaseID + ")")
	}
	if m.Text != "" {
		b.WriteString(": " + m.Text)
	}
	return truncate(escape(b.String()), maxFallbackLen)
}

// escape makes user text safe inside mrkdwn (&, <, > would start entities or links).
func escape(s string) string { return slackutilsx.EscapeMessage(s) }

// truncate cuts s to at most n runes, ending with an ellipsis when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
