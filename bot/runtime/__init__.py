"""What keeps `faqbot run` alive and is not a handler: durable polling, the update journal,
Telegram retries, the index refresher, the training supervisor."""
