/* Accessors of a communicator group, whatever its implementation. */
#include "comm/comm_group.h"

#include <stddef.h>

llmbed_comm *llmbed_comm_group_rank(llmbed_comm_group *group, int rank) {
    if (group == NULL || rank < 0 || rank >= group->size) return NULL;
    return group->ranks[rank];
}

int llmbed_comm_group_size(const llmbed_comm_group *group) { return group != NULL ? group->size : 0; }

void llmbed_comm_group_free(llmbed_comm_group *group) {
    if (group != NULL) group->destroy(group);
}
