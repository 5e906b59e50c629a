-- Reserved for the wt-lead helper's migration 2 (leader and instances): this
-- placeholder keeps the versions without gaps on the tok branch and is
-- replaced by that migration at merge.
SELECT 1;
