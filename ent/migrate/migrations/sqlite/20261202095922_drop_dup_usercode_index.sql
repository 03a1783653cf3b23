-- Drop index "user_usercode" from table: "users"
DROP INDEX `user_usercode`;
