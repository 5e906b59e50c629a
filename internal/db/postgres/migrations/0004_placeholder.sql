-- A placeholder that keeps the versions contiguous on the events18 branch:
-- another branch's 0004 replaces it when the branches are merged.
SELECT 1;
