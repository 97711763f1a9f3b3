package activities

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/notifications"
)

// chatPeer is a ChannelNotifier whose channels keep what they received, like Slack's channel history.
type chatPeer struct {
	mu          sync.Mutex
	history     map[string][]string // channel → message keys
	lookups     int
	lookupErr   error
	refuseFirst int // refuse this many sends (of refuseChannel and refuseKey, when set) with a server error
	// refuseChannel and refuseKey narrow refuseFirst to one channel or one message.
	refuseChannel, refuseKey string
	gone                     map[string]error // channel → the permanent error it answers every send with
	attempts                 map[string]int   // channel → sends tried
}

func (p *chatPeer) Channels(m notifications.Message) []string {
	if m.PartnerChannel != "" {
		return []string{m.PartnerChannel, "#ops"}
	}
	return []string{"#ops"}
}

func (p *chatPeer) NotifyChannel(_ context.Context, m notifications.Message, ch string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.attempts == nil {
		p.attempts = map[string]int{}
	}
	p.attempts[ch]++
	if err := p.gone[ch]; err != nil {
		return err
	}
	if p.refuseFirst > 0 && (p.refuseChannel == "" || p.refuseChannel == ch) && (p.refuseKey == "" || p.refuseKey == m.Key) {
		p.refuseFirst--
		return errors.New("slack server error: 500")
	}
	if p.history == nil {
		p.history = map[string][]string{}
	}
	p.history[ch] = append(p.history[ch], m.Key)
	return nil
}

func (p *chatPeer) Notify(ctx context.Context, m notifications.Message) error {
	for _, ch := range p.Channels(m) {
		if err := p.NotifyChannel(ctx, m, ch); err != nil {
			return err
		}
	}
	return nil
}

func (p *chatPeer) Delivered(_ context.Context, m notifications.Message, ch string, _ time.Time) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lookups++
	if p.lookupErr != nil {
		return false, p.lookupErr
	}
	for _, k := range p.history[ch] {
		if k == m.Key {
			return true, nil
		}
	}
	return false, nil
}

func (p *chatPeer) count(ch, key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, k := range p.history[ch] {
		if k == key {
			n++
		}
	}
	return n
}

// crashedAfterSending leaves the outbox as a worker killed between Slack's answer and the outbox write
// leaves it: the partner channel has the message, its delivery row says "sending", the notification is pending.
func crashedAfterSending(t *testing.T, a *Activities, peer *chatPeer, in NotifyInput) {
	ctx := context.Background()
	_, _, err := a.Store.RecordNotification(ctx, &db.Notification{Key: in.Message.Key, CaseID: in.Message.CaseID, Channel: "#p1", CreatedAt: t0})
	require.NoError(t, err)
	prev, err := a.Store.BeginChannelDelivery(ctx, in.Message.Key, "#p1", t0)
	require.NoError(t, err)
	require.Empty(t, prev)
	m := in.Message
	m.PartnerChannel = "#p1"
	require.NoError(t, peer.NotifyChannel(ctx, m, "#p1"))
}

func newPeerActs(t *testing.T) (*Activities, *chatPeer, NotifyInput) {
	a, _ := newActs(t)
	peer := &chatPeer{}
	a.Notifier = peer
	require.NoError(t, a.Store.AddPartner(context.Background(), &db.Partner{ID: "p1", Name: "P1", Services: []string{"sos"}, Capacity: 1, SlackChannel: "#p1", Active: true, CreatedAt: t0}))
	return a, peer, NotifyInput{PartnerID: "p1", Message: notifications.Message{Key: "sos:O1/breach/response", CaseID: "sos:O1", Title: "breach"}}
}

// TestNotifyAfterCrashIsNotRepeated: the retry of an attempt cut short after Slack took the message finds
// it in the channel's history and does not post it again; the channel it never reached gets it once.
func TestNotifyAfterCrashIsNotRepeated(t *testing.T) {
	a, peer, in := newPeerActs(t)
	crashedAfterSending(t, a, peer, in)
	require.NoError(t, a.Notify(context.Background(), in))
	assert.Equal(t, 1, peer.count("#p1", in.Message.Key), "partner channel: once")
	assert.Equal(t, 1, peer.count("#ops", in.Message.Key), "ops channel: once")
	assert.Equal(t, 1, peer.lookups, "only the interrupted channel is looked up")
	n, err := a.Store.GetNotification(context.Background(), in.Message.Key)
	require.NoError(t, err)
	assert.Equal(t, db.NotificationSent, n.Status)
	require.NoError(t, a.Notify(context.Background(), in))
	assert.Equal(t, 1, peer.count("#p1", in.Message.Key), "a later retry sends nothing")
	assert.Equal(t, 1, peer.count("#ops", in.Message.Key), "a later retry sends nothing")
}

// TestNotifyLookupFailureSendsAgain: when the history can't be read, the message is sent again — a repeat
// rather than a loss.
func TestNotifyLookupFailureSendsAgain(t *testing.T) {
	a, peer, in := newPeerActs(t)
	crashedAfterSending(t, a, peer, in)
	peer.lookupErr = errors.New("channel_not_found")
	require.NoError(t, a.Notify(context.Background(), in))
	assert.Equal(t, 2, peer.count("#p1", in.Message.Key))
	assert.Equal(t, 1, peer.count("#ops", in.Message.Key))
}

// TestNotifyRefusedChannelIsRetriedWithoutLookup: a send Slack refused is known undelivered, so the retry
// sends without reading the history.
func TestNotifyRefusedChannelIsRetriedWithoutLookup(t *testing.T) {
	a, peer, in := newPeerActs(t)
	peer.refuseFirst = 1
	require.Error(t, a.Notify(context.Background(), in))
	require.NoError(t, a.Notify(context.Background(), in))
	assert.Equal(t, 1, peer.count("#p1", in.Message.Key))
	assert.Equal(t, 1, peer.count("#ops", in.Message.Key))
	assert.Zero(t, peer.lookups)
}
