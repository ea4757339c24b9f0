-- The key stays: removing it would sign every user out.
SELECT 1;
