-- Reserved for another branch's migration 5 (the apps branch's 0006 needs
-- versions without gaps); replaced by that migration when they merge.
SELECT 1;
