DROP TABLE IF EXISTS dead_letters;
DROP TABLE IF EXISTS projection_checkpoints;
DROP TABLE IF EXISTS sandboxes;
