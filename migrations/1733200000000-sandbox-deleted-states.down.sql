UPDATE sandboxes SET state = 'stopped' WHERE state = 'deleted';
UPDATE sandboxes SET state = 'stopping' WHERE state = 'deleting';
