-- Reserved for another branch's migration 4 (the apps branch's 0006 needs
-- versions without gaps); replaced by that migration when they merge.
SELECT 1;
