"""Jobs: their states and the only functions that change them (lifecycle), the kinds of job
(kinds), and sending their ids to the workers (dispatch)."""
