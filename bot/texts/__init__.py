"""Every sentence the bot says to a person, in Russian: `user` for everyone who asks, `admin`
for the admins, `plural` for a number next to a noun."""
