"""Stories: photos and videos that disappear after `[stories] lifetime_hours`."""
