-- No query needs reminders_template: the listings filter by template while
-- walking another index, and the one query that used it, a user's count of
-- reminders ahead for a template, read every user's reminders of the
-- template through it instead of the user's own (reminders_owner). It also
-- cost every create and every claim an index write.
DROP INDEX reminders_template;
