package messaging

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/delivery"
	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/validation"
)

// Domain errors.
var (
	ErrUnknownRecipient = errors.New("no user has that usercode")
	ErrMessageNotFound  = errors.New("no such message for you")
)

// MaxClientIDLength bounds client_id.
const MaxClientIDLength = 64

// Service is the messaging use case.
type Service interface {
	// Send validates and enqueues a message from sender. It returns the
	// message with status "queued" and created=true, or — when sender
	// already sent this client_id — the earlier message and created=false.
	// An empty to is a broadcast to everyone online but the sender. A
	// sender over its send rate limit gets a *RateLimitedError.
	Send(ctx context.Context, sender auth.Principal, in SendInput) (m events.Message, created bool, err error)
	// History returns a page of the caller's messages, newest first in
	// the order their stream delivered them, and the cursor of the next
	// older page ("" when there is none). A cursor that is not one of the
	// caller's messages is a validation error.
	History(ctx context.Context, caller auth.Principal, before string, limit int) ([]events.Message, string, error)
	// After returns the caller's messages after id, oldest first.
	After(ctx context.Context, caller auth.Principal, after string, limit int) ([]events.Message, error)
	// MarkRead marks a message the caller received as read and tells its
	// sender; ErrMessageNotFound when the caller is not a recipient.
	MarkRead(ctx context.Context, caller auth.Principal, id string) error
	// Unread counts the caller's unread received messages.
	Unread(ctx context.Context, caller auth.Principal) (int, error)
}

// SendInput is a message as the client sends it.
type SendInput struct {
	Body     string
	To       string
	ClientID string
}

// Users finds recipients.
type Users interface {
	ByUsercode(ctx context.Context, code string) (storage.User, error)
}

// Audience names who is online: the recipients of a broadcast.
type Audience interface {
	OnlineIDs(ctx context.Context) ([]int, error)
}

// Store reads history and read state.
type Store interface {
	History(ctx context.Context, userID int, before string, limit int) ([]storage.StoredMessage, error)
	After(ctx context.Context, userID int, after string, limit int) ([]storage.StoredMessage, error)
	MarkRead(ctx context.Context, messageID string, userID int, at time.Time) (senderID int, found, changed bool, err error)
	Unread(ctx context.Context, userID int) (int, error)
}

// Enqueuer admits a delivery and hands it to the workers:
// delivery.GroupEnqueuer with RedisAdmission's Gate. A send it refuses
// fails with a *RateLimitedError, or a *RepeatedSend for a client_id its
// sender already used (Send answers with the earlier message).
type Enqueuer interface {
	Enqueue(ctx context.Context, d delivery.Delivery) error
}

// Publisher sends events to every pod.
type Publisher interface {
	Publish(ctx context.Context, env events.Envelope) error
}

// Limits are the rules from spec.messaging.
type Limits struct {
	MaxBodyLength   int
	HistoryPageSize int
	MaxPageSize     int
}

type service struct {
	users    Users
	audience Audience
	store    Store
	queue    Enqueuer
	pub      Publisher
	limits   Limits
	now      func() time.Time
}

// NewService returns the messaging service.
func NewService(users Users, audience Audience, store Store, queue Enqueuer, pub Publisher, limits Limits) Service {
	return &service{users: users, audience: audience, store: store, queue: queue, pub: pub, limits: limits, now: time.Now}
}

func (s *service) Send(ctx context.Context, sender auth.Principal, in SendInput) (events.Message, bool, error) {
	var errs validation.Errors
	if validation.HasNUL(in.Body) {
		errs.Add("body", validation.NULMessage)
	} else if validation.Blank(in.Body) {
		errs.Add("body", "must contain a visible character")
	} else if !utf8.ValidString(in.Body) {
		errs.Add("body", "must be valid UTF-8 text")
	} else if n := utf8.RuneCountInString(in.Body); n > s.limits.MaxBodyLength {
		errs.Add("body", fmt.Sprintf("must be at most %d characters (it has %d)", s.limits.MaxBodyLength, n))
	}
	to := strings.ToUpper(strings.TrimSpace(in.To))
	if to != "" && !auth.ValidUsercode(to) {
		errs.Add("to", "must be a 6-character usercode (A–Z, 0–9), or empty for everyone")
	}
	if len(in.ClientID) > MaxClientIDLength {
		errs.Add("client_id", fmt.Sprintf("must be at most %d bytes", MaxClientIDLength))
	} else if validation.HasNUL(in.ClientID) {
		errs.Add("client_id", validation.NULMessage)
	}
	if err := errs.Err(); err != nil {
		return events.Message{}, false, err
	}

	id, err := uuid.NewV7()
	if err != nil {
		return events.Message{}, false, err
	}
	d := delivery.Delivery{
		SenderID: sender.UserID,
		ClientID: in.ClientID,
		Message: events.Message{
			ID:        id.String(),
			Sender:    events.UserRef{Usercode: sender.Usercode, Username: sender.Username},
			Body:      in.Body,
			Broadcast: to == "",
			CreatedAt: s.now().UTC().Truncate(time.Microsecond),
			Status:    events.StatusQueued,
		},
	}
	if to != "" {
		u, err := s.users.ByUsercode(ctx, to)
		if errors.Is(err, storage.ErrNotFound) {
			return events.Message{}, false, ErrUnknownRecipient
		}
		if err != nil {
			return events.Message{}, false, err
		}
		d.ToID = &u.ID
		d.Message.To = &u.Usercode
		d.Recipients = []int{u.ID}
	} else {
		online, err := s.audience.OnlineIDs(ctx)
		if err != nil {
			return events.Message{}, false, err
		}
		// The audience is fixed now, at send time, so a retried task
		// delivers to exactly the same people.
		d.Recipients = make([]int, 0, len(online))
		for _, uid := range online {
			if uid != sender.UserID {
				d.Recipients = append(d.Recipients, uid)
			}
		}
	}

	if err := s.queue.Enqueue(ctx, d); err != nil {
		var repeat *RepeatedSend
		if errors.As(err, &repeat) {
			return repeat.Prev, false, nil
		}
		return events.Message{}, false, err
	}
	return d.Message, true, nil
}

func (s *service) pageSize(limit int, errs *validation.Errors) int {
	switch {
	case limit == 0:
		return s.limits.HistoryPageSize
	case limit < 0 || limit > s.limits.MaxPageSize:
		errs.Add("limit", fmt.Sprintf("must be between 1 and %d", s.limits.MaxPageSize))
	}
	return limit
}

func (s *service) History(ctx context.Context, caller auth.Principal, before string, limit int) ([]events.Message, string, error) {
	var errs validation.Errors
	limit = s.pageSize(limit, &errs)
	if before != "" && !events.ValidID(before) {
		errs.Add("before", "must be a message id")
	}
	if err := errs.Err(); err != nil {
		return nil, "", err
	}
	stored, err := s.store.History(ctx, caller.UserID, before, limit)
	if errors.Is(err, storage.ErrNotFound) {
		// The cursor is next_before of an earlier page: one of the
		// caller's messages, whose place in their mailbox the page
		// continues from. Any other id has no place to continue from.
		errs.Add("before", "must be the id of a message in your history (next_before of the previous page)")
		return nil, "", errs.Err()
	}
	if err != nil {
		return nil, "", err
	}
	msgs := eventsOf(stored)
	next := ""
	if len(msgs) == limit {
		next = msgs[len(msgs)-1].ID
	}
	return msgs, next, nil
}

func (s *service) After(ctx context.Context, caller auth.Principal, after string, limit int) ([]events.Message, error) {
	var errs validation.Errors
	limit = s.pageSize(limit, &errs)
	if !events.ValidID(after) {
		errs.Add("after", "must be a message id")
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	stored, err := s.store.After(ctx, caller.UserID, after, limit)
	if err != nil {
		return nil, err
	}
	return eventsOf(stored), nil
}

func (s *service) MarkRead(ctx context.Context, caller auth.Principal, id string) error {
	if !events.ValidID(id) {
		return ErrMessageNotFound
	}
	senderID, found, changed, err := s.store.MarkRead(ctx, id, caller.UserID, s.now())
	if err != nil {
		return err
	}
	if !found {
		return ErrMessageNotFound
	}
	if !changed || senderID == caller.UserID {
		return nil
	}
	env, err := events.NewRead(id, events.UserRef{Usercode: caller.Usercode, Username: caller.Username}, senderID)
	if err != nil {
		return err
	}
	// The read is stored; a lost receipt is repaired by the sender's next
	// history load, so a publish failure does not fail the request.
	_ = s.pub.Publish(ctx, env)
	return nil
}

func (s *service) Unread(ctx context.Context, caller auth.Principal) (int, error) {
	return s.store.Unread(ctx, caller.UserID)
}
