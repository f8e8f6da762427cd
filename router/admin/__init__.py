"""The admin API (``api``) and the figures it shows, of one process or summed over the workers (``figures``)."""
