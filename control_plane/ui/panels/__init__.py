"""The model page's cards; a card's state sits in its module unless several cards share it."""
