-- ceiling for one history page (newest 50 of a user's sent + received messages, with sender
-- and recipient usernames) as ONE SQL statement, run against the messager_bench database
-- after the product's history benchmark seeded it (users 1820..1843 hold ~20k messages each).
\set uid random(1834, 1843)
SELECT m.id, m.body, m.broadcast, m.created_at, s.username, s.usercode, t.username, t.usercode, r.read_at
FROM messages m
JOIN users s ON s.id = m.sender_id
LEFT JOIN users t ON t.id = m.to_id
LEFT JOIN message_recipients r ON r.message_id = m.id AND r.recipient_id = :uid
WHERE m.id IN (
  SELECT id FROM (SELECT id FROM messages WHERE sender_id = :uid ORDER BY id DESC LIMIT 50) a
  UNION
  SELECT message_id FROM (SELECT message_id FROM message_recipients WHERE recipient_id = :uid ORDER BY message_id DESC LIMIT 50) b)
ORDER BY m.id DESC LIMIT 50;
