// Package events defines the JSON of everything pushed to clients (message,
// presence and read events) and the envelope those events travel in between
// pods on Redis pub/sub. It is the one place these shapes live: messaging,
// presence and stream all encode and decode through it.
//
// An event is encoded once, at its source, and its bytes are forwarded
// unchanged to every connection that should see it.
package events

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Event types, as in the "type" field of a frame and the SSE "event:" line.
const (
	TypeMessage  = "message"
	TypePresence = "presence"
	TypeRead     = "read"
	// TypeTyping says a user is typing to the receiver: ephemeral, never
	// stored or replayed, delivered only to streams open at the time.
	TypeTyping = "typing"
	// TypeSessionEnded is never sent to clients: it tells every pod to
	// close the streams opened with a session (logout).
	TypeSessionEnded = "session_ended"
)

// Message statuses.
const (
	StatusQueued    = "queued"
	StatusDelivered = "delivered"
)

// UserRef names a user to other users.
type UserRef struct {
	Usercode string `json:"usercode"`
	Username string `json:"username"`
}

// Message is a message as clients see it, in API responses and on streams.
type Message struct {
	ID        string    `json:"id"`
	Sender    UserRef   `json:"sender"`
	Body      string    `json:"body"`
	Broadcast bool      `json:"broadcast"`
	To        *string   `json:"to"`
	CreatedAt time.Time `json:"created_at"`
	Status    string    `json:"status"`
	// ReadAt is set in history on messages the caller received and read.
	ReadAt *time.Time `json:"read_at,omitempty"`
	// Received marks a message the reader received (history sets it). It
	// is not a field of its own: it makes read_at appear as null while
	// the message is unread, which the API promises for received
	// messages. Decoding does not restore it.
	Received bool `json:"-"`
}

// messageFields is Message without its methods, so MarshalJSON can encode
// the fields without calling itself.
type messageFields Message

// unreadMessage is a received, unread message: the outer read_at, being
// shallower, replaces the embedded one and is never omitted.
type unreadMessage struct {
	messageFields
	ReadAt *time.Time `json:"read_at"`
}

// MarshalJSON encodes m, with "read_at": null when m was received and is
// unread; a message the reader sent has no read_at.
func (m Message) MarshalJSON() ([]byte, error) {
	if m.Received && m.ReadAt == nil {
		return json.Marshal(unreadMessage{messageFields: messageFields(m)})
	}
	return json.Marshal(messageFields(m))
}

// Positioned is a message with its position in one user's mailbox. Every
// message a user sends or receives takes the next position of that user
// when it is saved, so positions follow the order in which messages became
// visible to the user (not the order of their ids, which are made at the
// api and can be saved late); streams resume and fill gaps by them.
type Positioned struct {
	Seq     int64
	Message Message
}

// MessageFrame pushes a message.
type MessageFrame struct {
	Type    string  `json:"type"`
	Message Message `json:"message"`
}

// PresenceFrame says a user came online or went offline.
type PresenceFrame struct {
	Type   string  `json:"type"`
	User   UserRef `json:"user"`
	Online bool    `json:"online"`
}

// ReadFrame tells a sender that a recipient read a message.
type ReadFrame struct {
	Type      string  `json:"type"`
	MessageID string  `json:"message_id"`
	Reader    UserRef `json:"reader"`
}

// TypingFrame tells a user that User is typing a direct message to them.
type TypingFrame struct {
	Type string  `json:"type"`
	User UserRef `json:"user"`
}

// Envelope carries one encoded frame between pods with its audience.
type Envelope struct {
	// Type is the frame's type; ID the message id for message events.
	Type string `json:"t"`
	ID   string `json:"i,omitempty"`
	// Users are the user ids whose connections receive the frame; All
	// sends it to every connection instead.
	Users []int `json:"u,omitempty"`
	// Seqs, when set, are the message's positions in the mailboxes of
	// Users (Seqs[i] is Users[i]'s): each stream delivers a user's
	// messages in position order, drops a position it has passed, and
	// fills a gap from the database (see Positioned).
	Seqs []int64 `json:"s,omitempty"`
	All  bool    `json:"a,omitempty"`
	// Frame is the client-facing JSON, forwarded byte for byte.
	Frame json.RawMessage `json:"f"`
	// Trace carries the W3C trace context of the message's send.
	Trace map[string]string `json:"tr,omitempty"`
	// Session names the session of a TypeSessionEnded event by its id
	// (auth.SessionID, a hash), never by its token.
	Session string `json:"sid,omitempty"`
}

// ValidID reports whether s has the form of a message id: a UUID in its
// canonical 36-character text form (ids are UUIDv7, so they sort by time).
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// NewMessage encodes a message event for users.
func NewMessage(m Message, users []int) (Envelope, error) {
	f, err := json.Marshal(MessageFrame{Type: TypeMessage, Message: m})
	return Envelope{Type: TypeMessage, ID: m.ID, Users: users, Frame: f}, err
}

// NewPresence encodes a presence change for everyone connected.
func NewPresence(u UserRef, online bool) (Envelope, error) {
	f, err := json.Marshal(PresenceFrame{Type: TypePresence, User: u, Online: online})
	return Envelope{Type: TypePresence, All: true, Frame: f}, err
}

// NewRead encodes a read receipt for the message's sender.
func NewRead(messageID string, reader UserRef, senderID int) (Envelope, error) {
	f, err := json.Marshal(ReadFrame{Type: TypeRead, MessageID: messageID, Reader: reader})
	return Envelope{Type: TypeRead, ID: messageID, Users: []int{senderID}, Frame: f}, err
}

// NewTyping encodes "from is typing" for the streams of recipientID only.
// It has no position: streams pass it straight through, and a stream
// that was not open misses it, as it should.
func NewTyping(from UserRef, recipientID int) (Envelope, error) {
	f, err := json.Marshal(TypingFrame{Type: TypeTyping, User: from})
	return Envelope{Type: TypeTyping, Users: []int{recipientID}, Frame: f}, err
}

// NewSessionEnded tells every pod to end the streams of session sessionID.
func NewSessionEnded(sessionID string) Envelope {
	return Envelope{Type: TypeSessionEnded, Session: sessionID}
}
