-- one DM = one message row + one recipient row, one transaction per commit
\set sid random(1, 1000)
\set rid random(1, 1000)
BEGIN;
INSERT INTO messages (id, sender_id, to_id, body, broadcast, client_id, created_at)
  VALUES (gen_random_uuid()::text, :sid, :rid, 'hello, this is a benchmark direct message body', false, gen_random_uuid()::text, now())
  RETURNING id AS mid \gset
INSERT INTO message_recipients (message_id, recipient_id, created_at) VALUES (':mid', :rid, now());
COMMIT;
