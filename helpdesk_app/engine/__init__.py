"""What runs the workflows: runs and their leases, jobs, the sweeper, intake of deliveries,
the triage job, the post-back to the ticket, and the services they share."""
