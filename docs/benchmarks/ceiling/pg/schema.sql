-- Tables shaped like messager's (ent/schema): messages + message_recipients.
DROP TABLE IF EXISTS message_recipients;
DROP TABLE IF EXISTS messages;
CREATE TABLE messages (
  id         varchar(36) PRIMARY KEY,
  sender_id  int NOT NULL,
  to_id      int,
  body       text NOT NULL,
  broadcast  bool NOT NULL DEFAULT false,
  client_id  varchar(64),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX messages_sender_client ON messages (sender_id, client_id);
CREATE INDEX messages_sender_id ON messages (sender_id, id);
CREATE TABLE message_recipients (
  id           serial PRIMARY KEY,
  message_id   varchar(36) NOT NULL REFERENCES messages(id),
  recipient_id int NOT NULL,
  read_at      timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (message_id, recipient_id)
);
CREATE INDEX message_recipients_recipient ON message_recipients (recipient_id, message_id);
