-- Reserved for another branch's migration 9 (the apps branch's 0010 needs
-- versions without gaps); replaced by that migration when they merge.
SELECT 1;
