"""What keeps `faqbot run` alive and is not a handler: polling, retries, refresh, training."""
