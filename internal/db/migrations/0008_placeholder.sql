-- A placeholder that keeps the versions contiguous on the events18 branch:
-- another branch's 0008 replaces it when the branches are merged.
SELECT 1;
