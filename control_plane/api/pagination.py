from django.conf import settings
from django.core.paginator import Paginator
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class FirstPageCountingPaginator(Paginator):
    """Counts a first page that holds every row from the rows themselves.

    Most lists (a tenant's endpoints, members, keys) fit in one page: fetching one row more
    than the page tells whether there are others, and saves the `SELECT COUNT(*)` that Django's
    paginator runs before every page. A longer list is counted as before.
    """

    def page(self, number):
        if str(number) != "1" or "count" in self.__dict__:
            return super().page(number)
        rows = list(self.object_list[: self.per_page + 1])
        if len(rows) <= self.per_page:
            self.count = len(rows)  # `count` is a cached_property: this is its value
            return self._get_page(rows, 1, self)
        return self._get_page(rows[: self.per_page], self.validate_number(1), self)


class BoundedPageNumberPagination(PageNumberPagination):
    """Page-number pagination whose `page_size` query parameter cannot exceed a bound."""

    django_paginator_class = FirstPageCountingPaginator
    page_size = settings.API_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request) -> int:
        """DRF falls back to the default on a bad `page_size`; we say so instead."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or int(raw) < 1:
            raise ValidationError(
                {"page_size": [f"must be a whole number from 1 to {self.max_page_size}"]}
            )
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        # The bounds the parameters are checked against, so clients and fuzzers know them.
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
            elif parameter["name"] == self.page_query_param:
                parameter["schema"].update(minimum=1)
        return parameters
