-- Reserved: the number of another branch's migration (consent18, events18, apps19), so that
-- versions stay without gaps until they merge. The merge replaces this file.
SELECT 1;
