"""Integer rectangles in canvas pixel coordinates (x to the right, y down)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle of whole pixels; ``x``/``y`` may be negative (past the canvas edge)."""

    x: int
    y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width < 0 or self.height < 0:
            raise ValueError(f"A rectangle cannot have a negative size ({self.width}×{self.height})")

    @classmethod
    def from_bounds(cls, left: int, top: int, right: int, bottom: int) -> Rect:
        """The rectangle spanning ``left <= x < right`` and ``top <= y < bottom`` (empty if inverted)."""
        return cls(left, top, max(0, right - left), max(0, bottom - top))

    @property
    def right(self) -> int:
        """One past the last column."""
        return self.x + self.width

    @property
    def bottom(self) -> int:
        """One past the last row."""
        return self.y + self.height

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return self.width, self.height

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def is_empty(self) -> bool:
        return self.width == 0 or self.height == 0

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, columns)`` slices to index an array whose origin is the canvas origin."""
        if self.x < 0 or self.y < 0:
            raise ValueError(f"{self} starts past the array's edge")
        return slice(self.y, self.bottom), slice(self.x, self.right)

    def intersected(self, other: Rect) -> Rect:
        """The overlap of both rectangles (empty when they do not overlap)."""
        return Rect.from_bounds(
            max(self.x, other.x),
            max(self.y, other.y),
            min(self.right, other.right),
            min(self.bottom, other.bottom),
        )

    def united(self, other: Rect) -> Rect:
        """The smallest rectangle containing both; an empty rectangle contributes nothing."""
        if self.is_empty:
            return other
        if other.is_empty:
            return self
        return Rect.from_bounds(
            min(self.x, other.x),
            min(self.y, other.y),
            max(self.right, other.right),
            max(self.bottom, other.bottom),
        )

    def translated(self, dx: int, dy: int) -> Rect:
        return Rect(self.x + dx, self.y + dy, self.width, self.height)

    def padded(self, dx: int, dy: int | None = None) -> Rect:
        """Grown by ``dx`` on the left and right and ``dy`` (default ``dx``) on the top and bottom."""
        dy = dx if dy is None else dy
        return Rect.from_bounds(self.x - dx, self.y - dy, self.right + dx, self.bottom + dy)

    def contains(self, other: Rect) -> bool:
        """True when ``other`` lies entirely inside this rectangle (an empty ``other`` always does)."""
        if other.is_empty:
            return True
        return (
            self.x <= other.x
            and self.y <= other.y
            and other.right <= self.right
            and other.bottom <= self.bottom
        )

    def contains_point(self, x: float, y: float) -> bool:
        return self.x <= x < self.right and self.y <= y < self.bottom
