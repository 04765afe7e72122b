"""The models Studio knows: the embedded default and the files the user added."""
