package reliability

import (
	"context"
	"time"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
)

// customerStats compares what the cases recorded for their customers' DingTalk groups with what the fake
// robots received.
type customerStats struct {
	Cases, Expected, Delivered   int
	Missing, Doubled, Unexpected int
	Reclaimed, Failed, Pending   int
	BadSign, RateLimited         int
}

// verifyCustomer waits for the customer deliveries of the cases with a DingTalk group to settle, then
// matches each group's messages against the messages its case recorded, by text (which names the order
// and the moment): every one exactly once, nothing else.
func (b *battery) verifyCustomer(ctx context.Context) customerStats {
	b.mu.Lock()
	var orders []SOSOrder
	for _, o := range b.orders {
		if o.DingTalk != "" {
			orders = append(orders, o)
		}
	}
	b.mu.Unlock()
	var st customerStats
	st.Cases = len(orders)
	settled := func() ([][]db.DueCustomerDelivery, bool) {
		all := make([][]db.DueCustomerDelivery, len(orders))
		done := true
		for i, o := range orders {
			ds, err := b.store.ListCustomerDeliveries(ctx, workflows.CaseWorkflowID(workflows.ServiceSOS, o.OrderID))
			if err != nil {
				return nil, false
			}
			all[i] = ds
			for _, d := range ds {
				if d.Delivery.State == db.CustomerPending {
					done = false
				}
			}
		}
		return all, done
	}
	var all [][]db.DueCustomerDelivery
	for deadline := time.Now().Add(2 * time.Minute); ; {
		var done bool
		all, done = settled()
		if (done && all != nil) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for i, o := range orders {
		want := map[string]int{}
		for _, d := range all[i] {
			if d.Delivery.Channel != db.CustomerDingTalk {
				continue
			}
			st.Expected++
			want[d.Message.Text]++
			switch d.Delivery.State {
			case db.CustomerPending:
				st.Pending++
			case db.CustomerFailed:
				st.Failed++
			}
			// A delivery claimed again with no refusal on record: the worker that held it died, maybe after
			// the robot took the message.
			if d.Delivery.Attempts > 1 && d.Delivery.LastError == "" {
				st.Reclaimed++
			}
		}
		got := map[string]int{}
		for _, m := range b.ding.Messages(o.DingTalk) {
			got[m.Text]++
			st.Delivered++
		}
		for text, n := range want {
			switch g := got[text]; {
			case g == 0:
				st.Missing += n
			case g > n:
				st.Doubled += g - n
			}
		}
		for text, g := range got {
			if want[text] == 0 {
				st.Unexpected += g
			}
		}
		s := b.ding.Stats(o.DingTalk)
		st.BadSign += s.BadSign
		st.RateLimited += s.RateLimited
	}
	return st
}
