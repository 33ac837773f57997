"""Bundle import (and export): streamed, batched, resumable, exactly once per batch."""
