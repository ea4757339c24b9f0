-- A sandbox's end is `deleted` (and the way there `deleting`, which a delete now answers with
-- while its host finishes): rows projected under the former names follow.
UPDATE sandboxes SET state = 'deleted' WHERE state = 'stopped';
UPDATE sandboxes SET state = 'deleting' WHERE state = 'stopping';
