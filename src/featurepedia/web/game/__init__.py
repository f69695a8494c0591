"""The game: campaigns, puzzles, play events, points, streaks and leaderboards; players' profiles."""
